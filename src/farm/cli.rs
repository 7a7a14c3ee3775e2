//! Farm subcommands of the `tessera` binary.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum FarmCommand {
    /// Run the farm coordinator (HTTP API, scheduler, SQLite state).
    Coordinator {},
}

impl FarmCommand {
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("the farm is not built yet")
    }
}
