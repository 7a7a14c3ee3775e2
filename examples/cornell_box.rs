//! Writes the Cornell box scene to `scenes/cornell-box.gltf`:
//! `cargo run --example cornell_box`.

use std::path::Path;

use tessera::scene::cornell::{cornell_box_gltf, CORNELL_BOX_PATH};

fn main() -> std::io::Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORNELL_BOX_PATH);
    std::fs::write(&path, cornell_box_gltf())?;
    println!("wrote {}", path.display());
    Ok(())
}
