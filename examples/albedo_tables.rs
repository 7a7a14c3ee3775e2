//! Writes the BSDF's albedo tables, `src/sampling/ggx_albedo.table` and
//! `src/sampling/sheen_albedo.table`: `cargo run --release --example albedo_tables`.

use std::path::Path;

use tessera::sampling::quadrature::table_source;
use tessera::sampling::{ggx_albedo, sheen};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sampling");
    let tables = [
        ("ggx_albedo.table", "GGX directional albedo (src/sampling/ggx_albedo.rs)", ggx_albedo::generate()),
        ("sheen_albedo.table", "Charlie sheen directional albedo (src/sampling/sheen.rs)", sheen::generate()),
    ];
    for (file, what, table) in tables {
        let path = dir.join(file);
        std::fs::write(&path, table_source(&table, what))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
