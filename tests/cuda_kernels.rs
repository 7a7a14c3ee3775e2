//! The CUDA kernels compile (no GPU needed): NVRTC builds every kernel for sm_90
//! (the H100) with the layout checks generated from the Rust structs, without a
//! warning, and ptxas's register and spill report is printed.
#![cfg(feature = "cuda")]

use tessera::backend::cuda::nvrtc::{self, Nvrtc};
use tessera::backend::cuda::source;

/// NVRTC, or `None` (with a message) where it is truly absent. Where the test
/// script provisioned it (TESSERA_NVRTC_LIB set), failing to load it is a failure.
fn nvrtc_or_skip(test: &str) -> Option<&'static Nvrtc> {
    match nvrtc::nvrtc() {
        Ok(n) => Some(n),
        Err(e) if std::env::var_os(nvrtc::NVRTC_LIB_VAR).is_some() => {
            panic!("{} is set but NVRTC does not load: {e}", nvrtc::NVRTC_LIB_VAR)
        }
        Err(e) => {
            eprintln!(
                "{test}: skipped, NVRTC is not installed ({e}); run scripts/provision-nvrtc.sh and set {}",
                nvrtc::NVRTC_LIB_VAR
            );
            None
        }
    }
}

#[test]
fn every_kernel_compiles_for_sm_90_without_warnings() {
    let Some(nvrtc) = nvrtc_or_skip("every_kernel_compiles_for_sm_90_without_warnings") else { return };
    let (major, minor) = nvrtc.version().unwrap();
    assert!(nvrtc.supported_archs().unwrap().contains(&90), "NVRTC {major}.{minor} cannot target sm_90");
    let start = std::time::Instant::now();
    let compiled = nvrtc
        .compile(&source::kernel_source(), source::MAIN, &source::compile_options(90, true), true)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "NVRTC {major}.{minor} ({}) compiled the kernels for sm_90 in {:.1} s",
        nvrtc.path(),
        start.elapsed().as_secs_f64()
    );
    let warnings: Vec<&str> = compiled.log.lines().filter(|l| l.contains("warning")).collect();
    assert!(warnings.is_empty(), "NVRTC warnings:\n{}", compiled.log);
    assert_eq!(&compiled.image[..4], b"\x7fELF", "sm_90 output should be a CUBIN");

    let report = nvrtc::parse_ptxas_report(&compiled.log);
    eprintln!("{:<16} {:>9} {:>12} {:>13} {:>12}", "kernel", "registers", "stack bytes", "spill stores", "spill loads");
    for k in &report {
        eprintln!(
            "{:<16} {:>9} {:>12} {:>13} {:>12}",
            k.name, k.registers, k.stack_frame_bytes, k.spill_store_bytes, k.spill_load_bytes
        );
    }
    for kernel in source::KERNELS {
        let k = report
            .iter()
            .find(|k| k.name == kernel)
            .unwrap_or_else(|| panic!("no ptxas report for {kernel}:\n{}", compiled.log));
        // __launch_bounds__(128) lets ptxas use up to 255 registers; a zero means the report was misread.
        assert!(k.registers > 0 && k.registers <= 255, "{kernel}: {} registers", k.registers);
    }
}

#[test]
fn a_layout_mismatch_does_not_compile() {
    let Some(nvrtc) = nvrtc_or_skip("a_layout_mismatch_does_not_compile") else { return };
    // Pretend the Rust BvhNode grew a field: the generated assert must stop the compile.
    let source = source::kernel_source().replace("sizeof(BvhNode) == 32,", "sizeof(BvhNode) == 48,");
    let err = nvrtc.compile(&source, source::MAIN, &source::compile_options(90, false), false).unwrap_err();
    assert!(err.to_string().contains("BvhNode: size differs from Rust's BvhNode"), "{err}");
}
