//! With the `oidn` feature, gives Tessera's binaries and tests an rpath to Open
//! Image Denoise's libraries ($OIDN_DIR/lib, by default the `.oidn/` folder that
//! scripts/provision-oidn.sh fills) and to the binary's own folder, so they run
//! without LD_LIBRARY_PATH.
//! Without the feature it does nothing and needs nothing.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=OIDN_DIR");
    if env::var_os("CARGO_FEATURE_OIDN").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let oidn_dir =
        env::var_os("OIDN_DIR").filter(|d| !d.is_empty()).map_or_else(|| manifest_dir.join(".oidn"), PathBuf::from);
    let lib = oidn_dir.join("lib");
    println!("cargo:rerun-if-changed={}", lib.display());
    if !lib.is_dir() {
        println!(
            "cargo:warning=Open Image Denoise not found in {}: run scripts/provision-oidn.sh or set OIDN_DIR",
            oidn_dir.display()
        );
        return;
    }
    let lib = lib.canonicalize().unwrap_or(lib);
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") => {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
            // Also beside the binary, so a copied binary finds libraries copied with it.
            println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
        }
        Ok("macos") => {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
            println!("cargo:rustc-link-arg=-Wl,-rpath,@loader_path");
        }
        // Windows finds DLLs beside the executable or on PATH; there is no rpath.
        _ => {}
    }
}
