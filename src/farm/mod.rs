//! The render farm: a coordinator that splits jobs into frames × tiles (× sample
//! ranges) and keeps every state change in SQLite, workers that pull leases and
//! upload checksummed tile results, and the client commands.
//!
//! Defaults (all flags of `tessera coordinator`): leases live 60 s without a
//! heartbeat, workers heartbeat every 10 s, a task fails after 3 failed attempts,
//! a worker that fails 3 tasks of a job is blocklisted for that job, lease
//! requests long-poll for up to 30 s.

pub mod assemble;
pub mod auth;
pub mod bundle;
pub mod cli;
pub mod client;
pub mod coordinator;
pub mod error;
pub mod http;
pub mod metrics;
pub mod protocol;
pub mod queries;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod worker;
