//! Writes the GGX albedo table to `src/sampling/ggx_albedo.table`:
//! `cargo run --release --example ggx_albedo_table`.

use std::path::Path;

use tessera::sampling::ggx_albedo::{generate, table_source};

fn main() -> std::io::Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sampling/ggx_albedo.table");
    std::fs::write(&path, table_source(&generate()))?;
    println!("wrote {}", path.display());
    Ok(())
}
