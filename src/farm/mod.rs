//! The render farm: a coordinator that splits jobs into frames × tiles (× sample
//! ranges) and keeps every state change in SQLite, workers that pull leases and
//! upload checksummed tile results, and the client commands.
//!
//! ```text
//! tessera coordinator --listen 0.0.0.0:7878 --data /srv/tessera   # writes DATA/tokens/{admin,enrolment}.token
//! tessera coordinator project create film --data /srv/tessera
//! tessera coordinator user grant alice film artist --data /srv/tessera
//! tessera coordinator token create --data /srv/tessera --user alice --output alice.token
//! tessera worker --coordinator http://host:7878 --token-file enrolment.token [--backend auto]
//! export TESSERA_COORDINATOR=http://host:7878 TESSERA_TOKEN_FILE=alice.token TESSERA_PROJECT=film
//! tessera submit scene.gltf --frames 1-24 --tile 256 --spp 256 --priority 10 --denoise
//! tessera status [JOB] · tessera watch JOB [--download DIR] · tessera download JOB -o DIR
//! tessera cancel|pause|resume|retry JOB
//! ```
//!
//! Defaults (flags of `tessera coordinator`): leases live 60 s without a
//! heartbeat, workers heartbeat every 10 s, a task fails after 3 failed attempts,
//! a worker that fails 3 tasks of a job is blocklisted for that job (until
//! `retry`), lease requests long-poll for up to 30 s, scene files may be up to
//! 4 GiB, JSON bodies up to 8 MiB, tiles up to 1024 px (results up to 64 MiB),
//! a job up to 2,000,000 tasks, 100,000 frames, 8192×8192 pixels and 65,536
//! samples per pixel, and a submitted scene's check up to 60 s.
//!
//! Hostile scenes: the coordinator checks every submitted scene in a child
//! process before it accepts the job ([`validate`]); workers load and render
//! scenes only in child processes confined to the job's bundle
//! ([`render_process`]), so a scene that aborts, panics or runs away fails its
//! tasks, and then its job, never a farm process ([`child`]).
//!
//! Modules: [`protocol`] (wire types, result format), [`store`] (SQLite, group
//! commit), [`scheduler`] (the task state machine), [`server`] (HTTP API),
//! [`auth`] (tokens), [`access`] (projects, roles, quotas), [`audit`],
//! [`rate_limit`], [`bundle`] (content-addressed scenes), [`validate`] (scene checks),
//! [`assemble`], [`metrics`], [`queries`] (read side), [`worker`],
//! [`render_process`], [`child`], [`client`], [`cli`].

pub mod access;
pub mod assemble;
pub mod audit;
pub mod auth;
pub mod bundle;
pub mod child;
pub mod cli;
pub mod client;
pub mod coordinator;
pub mod energy;
pub mod error;
pub mod http;
pub mod metrics;
pub mod preview;
pub mod private;
pub mod protocol;
pub mod queries;
pub mod rate_limit;
pub mod render_process;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod tls;
pub mod usage;
pub mod validate;
pub mod worker;
