//! The render farm: a coordinator that splits jobs into frames × tiles and keeps
//! every state change in SQLite, workers that pull leases, and the client commands.

pub mod cli;
