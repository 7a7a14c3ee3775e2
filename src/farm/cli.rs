//! Farm subcommands of the `tessera` binary.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use super::access::{self, ProjectRole, QuotaChange};
use super::auth::{self, NewToken};
use super::client;
use super::coordinator::{self, CoordinatorOptions, SceneCheckOptions};
use super::http::Api;
use super::protocol::{FrameRange, JobSpec, OutputFormat, SceneManifest};
use super::scheduler::{JobLimits, SchedConfig};
use super::server::Limits;
use super::store;
use super::worker::{self, Worker, WorkerOptions};
use super::{render_process, validate};
use crate::backend::BackendArgs;
use crate::output::{OutputOptions, ViewTransform};
use crate::render::settings::{RenderSettings, TimeArgs, MAX_IMAGE_SIDE, MAX_SPP};
use crate::scene::{parse_memory_size, CameraSelect, EnvironmentSpec};

/// Default coordinator address for clients and workers.
pub const DEFAULT_COORDINATOR: &str = "http://127.0.0.1:7878";

#[derive(Debug, Subcommand)]
pub enum FarmCommand {
    /// Run the farm coordinator (HTTP API, scheduler, SQLite state), or manage its
    /// tokens, users, projects, and read its audit log.
    Coordinator(CoordinatorArgs),
    /// Run a render node that pulls tasks from a coordinator.
    Worker(WorkerArgs),
    /// Submit a scene to the farm; prints the job id.
    Submit(SubmitArgs),
    /// Show a job's progress, frames and errors, or list your jobs.
    Status(StatusArgs),
    /// Follow a job with a progress bar until it finishes.
    Watch(WatchArgs),
    /// Cancel a job: queued and running tasks stop; finished frames stay.
    Cancel(JobArgs),
    /// Pause a job: running tasks finish, no new ones start.
    Pause(JobArgs),
    /// Resume a paused job.
    Resume(JobArgs),
    /// Queue a job's failed and cancelled tasks (and failed frames) again.
    Retry(JobArgs),
    /// Change a job's priority (wranglers; within the project's ceiling).
    Priority(PriorityArgs),
    /// Usage of your projects: worker-seconds, samples and energy per project, user or job, and its cost.
    Usage(UsageArgs),
    /// Download a job's finished frames.
    Download(DownloadArgs),
    /// A worker's render process (started by `tessera worker`; speaks on stdin/stdout).
    #[command(name = "render-process", hide = true)]
    RenderProcess,
    /// The coordinator's scene check (started by `tessera coordinator`; speaks on stdin/stdout).
    #[command(name = "check-scene", hide = true)]
    CheckScene,
}

/// A duration: "500ms", "10s", "2m", "12h", "30d", or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let value: f64 = number.trim().parse().map_err(|_| format!("\"{s}\" is not a duration (e.g. 500ms, 10s, 2m)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("\"{s}\": unknown unit \"{unit}\" (use ms, s, m, h or d)")),
    };
    if !value.is_finite() || value < 0.0 || value * scale > 1e9 {
        return Err(format!("\"{s}\" is not a sensible duration"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CoordinatorArgs {
    #[command(subcommand)]
    command: Option<CoordinatorCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum CoordinatorCommand {
    /// Create, list or revoke access tokens (works while the coordinator runs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Add, list or remove users, and give them roles in projects.
    #[command(subcommand)]
    User(UserCommand),
    /// Create, change or list projects and their quotas.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Print the audit log: every state-changing and every refused request.
    Audit(AuditArgs),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (it is stored hashed and cannot be shown again).
    Create(TokenCreateArgs),
    /// List tokens (ids, kinds, names, expiry; never the secrets).
    List(DataArg),
    /// Revoke a token by its id (or a unique prefix of it) from `token list`.
    Revoke {
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Args)]
struct DataArg {
    /// The coordinator's data folder.
    #[arg(long, env = "TESSERA_DATA", default_value = "tessera-farm")]
    data: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["user", "enrolment"])))]
struct TokenCreateArgs {
    /// A token acting as user NAME (created if missing; see `user grant` for their projects).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// With --user: make NAME an admin, who may do everything.
    #[arg(long, requires = "user")]
    admin: bool,
    /// An enrolment token, labelled LABEL (default "workers"): it only registers
    /// workers, each of which then gets its own credential.
    #[arg(long, value_name = "LABEL", num_args = 0..=1, default_missing_value = "workers", alias = "worker")]
    enrolment: Option<String>,
    /// The token stops working after this long, e.g. 30d, 12h.
    #[arg(long, value_parser = parse_duration)]
    expires: Option<Duration>,
    /// Write the token to this file (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user (or change whether they are an admin).
    Add {
        name: String,
        /// An admin may do everything: every project, tokens, workers, the audit log.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// List users, their projects and roles.
    List(DataArg),
    /// Give a user a role in a project (replacing their earlier role there).
    Grant {
        name: String,
        project: String,
        #[arg(value_enum)]
        role: ProjectRole,
        #[command(flatten)]
        data: DataArg,
    },
    /// End a user's membership of a project.
    Ungrant {
        name: String,
        project: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Remove a user and revoke their tokens (their jobs stay).
    Remove {
        name: String,
        #[command(flatten)]
        data: DataArg,
    },
}

/// A quota flag's value: a limit, or none.
#[derive(Clone, Copy, Debug)]
struct Limit(Option<u64>);

/// A limit, or "none" for unlimited.
fn parse_limit(s: &str) -> Result<Limit, String> {
    match s {
        "none" | "unlimited" => Ok(Limit(None)),
        _ => s.parse().map(|v| Limit(Some(v))).map_err(|_| format!("\"{s}\" is not a whole number or \"none\"")),
    }
}

/// A byte size such as 500GiB, or "none".
fn parse_storage(s: &str) -> Result<Limit, String> {
    match s {
        "none" | "unlimited" => Ok(Limit(None)),
        _ => parse_memory_size(s).map(|v| Limit(Some(v))),
    }
}

#[derive(Debug, Args)]
struct QuotaArgs {
    /// Most tasks the project may have queued ("none": unlimited).
    #[arg(long, value_parser = parse_limit)]
    max_queued_tasks: Option<Limit>,
    /// Most tasks of the project rendering at once ("none": unlimited).
    #[arg(long, value_parser = parse_limit)]
    max_running_tasks: Option<Limit>,
    /// Most bytes of scene files the project may store, e.g. 500GiB ("none": unlimited).
    #[arg(long, value_parser = parse_storage)]
    max_storage: Option<Limit>,
    /// Highest priority the project's jobs may have (admins excepted).
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    max_priority: Option<i32>,
}

impl QuotaArgs {
    fn change(&self) -> QuotaChange {
        QuotaChange {
            max_queued_tasks: self.max_queued_tasks.map(|l| l.0),
            max_running_tasks: self.max_running_tasks.map(|l| l.0),
            max_storage_bytes: self.max_storage.map(|l| l.0),
            max_priority: self.max_priority,
        }
    }
}

#[derive(Debug, Subcommand)]
enum ProjectCommand {
    /// Create a project (no limits unless given).
    Create {
        name: String,
        #[command(flatten)]
        quotas: QuotaArgs,
        #[command(flatten)]
        data: DataArg,
    },
    /// Change a project's quotas.
    Set {
        name: String,
        #[command(flatten)]
        quotas: QuotaArgs,
        #[command(flatten)]
        data: DataArg,
    },
    /// List projects and their quotas.
    List(DataArg),
}

/// A point in time: a duration ago ("2h"), or a UTC date and time ("2026-12-01", "2026-12-01T10:00:00Z").
fn parse_since(s: &str) -> Result<i64, String> {
    if let Ok(ago) = parse_duration(s) {
        return Ok(store::now_ms() - ago.as_millis() as i64);
    }
    let full = if s.len() == 10 { format!("{s}T00:00:00Z") } else { s.to_string() };
    let at = humantime::parse_rfc3339_weak(&full)
        .map_err(|_| format!("\"{s}\" is neither a duration (2h) nor a date and time (2026-12-01T10:00:00Z)"))?;
    Ok(at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Only entries since then: a duration ago (2h) or a UTC time (2026-12-01T10:00:00Z).
    #[arg(long, value_parser = parse_since)]
    since: Option<i64>,
    /// Only entries of this user (workers are "worker:ID").
    #[arg(long)]
    user: Option<String>,
    /// Only entries about this project.
    #[arg(long)]
    project: Option<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (`0.0.0.0:7878` for a farm; port 0 picks a free port,
    /// written to DATA/address).
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: String,
    /// Serve HTTPS with this certificate chain (PEM); reloaded on SIGHUP and when the file changes.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (tokens then cross the network in clear).
    #[arg(long, conflicts_with = "tls_cert")]
    insecure_http: bool,
    #[command(flatten)]
    data: DataArg,
    /// A lease expires after this long without a heartbeat; its task is requeued.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    lease: Duration,
    /// How often workers heartbeat their lease.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    heartbeat: Duration,
    /// Failed attempts (errors, expired leases, bad results) after which a task fails.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Failures of one job on one worker after which the worker gets no more of that job.
    #[arg(long, default_value_t = 3)]
    blocklist_after: u32,
    /// Longest long poll of a lease request.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    max_wait: Duration,
    /// Largest scene file accepted, in MiB.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    max_file_mib: u64,
    /// Most tasks (frames x tiles x sample ranges) one job may have.
    #[arg(long, default_value_t = JobLimits::default().max_tasks, value_parser = clap::value_parser!(u64).range(1..=1 << 40))]
    max_tasks: u64,
    /// Most frames one job may have.
    #[arg(long, default_value_t = JobLimits::default().max_frames, value_parser = clap::value_parser!(u64).range(1..=1 << 32))]
    max_frames: u64,
    /// Widest image a job may render, in pixels (the coordinator holds a full frame to assemble it).
    #[arg(long, default_value_t = JobLimits::default().max_width, value_parser = clap::value_parser!(u32).range(1..=MAX_IMAGE_SIDE as i64))]
    max_width: u32,
    /// Tallest image a job may render, in pixels.
    #[arg(long, default_value_t = JobLimits::default().max_height, value_parser = clap::value_parser!(u32).range(1..=MAX_IMAGE_SIDE as i64))]
    max_height: u32,
    /// Most samples per pixel a job may ask for.
    #[arg(long, default_value_t = JobLimits::default().max_spp, value_parser = clap::value_parser!(u32).range(1..=MAX_SPP as i64))]
    max_spp: u32,
    /// A submitted scene whose check (load, environment, first frame prepared) takes longer is refused.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    scene_check_time_limit: Duration,
    /// Memory budget of the scene check, e.g. 8GiB (default: the loader's default).
    #[arg(long, value_parser = parse_memory_size)]
    scene_check_memory_limit: Option<u64>,
    /// Requests per second each user or enrolment token may make (bursts of 4 s worth; 0: unlimited).
    #[arg(long, default_value_t = 20.0)]
    rate_limit: f64,
    /// Testing aid: accept scenes without checking them (workers still refuse bad ones).
    #[arg(long, hide = true)]
    debug_skip_scene_check: bool,
}

/// Where the coordinator is and who is asking.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Coordinator URL.
    #[arg(long, env = "TESSERA_COORDINATOR", default_value = DEFAULT_COORDINATOR)]
    coordinator: String,
    /// File holding the access token (keeps it off command lines; an operator
    /// creates one with `tessera coordinator token create --output FILE`).
    #[arg(long, env = "TESSERA_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Trust only this CA certificate (PEM) for an https:// coordinator (default: the system's roots).
    #[arg(long, env = "TESSERA_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Access token; prefer --token-file or TESSERA_TOKEN, since command lines are visible to other users.
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    token: Option<String>,
}

impl ClientArgs {
    /// The token from --token-file, --token or the environment.
    fn token(&self, what: &str) -> anyhow::Result<String> {
        let token = match &self.token_file {
            Some(path) => {
                let meta = std::fs::metadata(path).with_context(|| format!("token file {}", path.display()))?;
                if !meta.is_file() || meta.len() > 4096 {
                    bail!("token file {}: not a small regular file", path.display());
                }
                std::fs::read_to_string(path).with_context(|| format!("reading token file {}", path.display()))?
            }
            None => self.token.clone().unwrap_or_default(),
        };
        let token = token.trim().to_string();
        if token.is_empty() {
            bail!("no token: pass --token-file FILE or set TESSERA_TOKEN_FILE or TESSERA_TOKEN ({what})");
        }
        Ok(token)
    }

    fn api(&self) -> anyhow::Result<Api> {
        let token = self.token("an operator creates one with `tessera coordinator token create --user NAME`")?;
        Ok(Api::with_ca(&self.coordinator, &token, self.ca_cert.as_deref())?)
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    backend: BackendArgs,
    /// Name shown on the coordinator (default: the host name).
    #[arg(long)]
    name: Option<String>,
    /// Local scene cache (safe to delete while the worker is stopped).
    #[arg(long, default_value = "tessera-worker-cache")]
    cache: PathBuf,
    /// Skip the start-up benchmark.
    #[arg(long)]
    skip_bench: bool,
    /// Long-poll time of one request for work.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    wait: Duration,
    /// Exit after rendering this many tasks.
    #[arg(long)]
    max_tasks: Option<u64>,
    /// Memory budget of loading a scene, e.g. 8GiB (default: the loader's default, the available memory).
    #[arg(long, value_parser = parse_memory_size)]
    memory_limit: Option<u64>,
    /// Stop a task's render after this long and report it failed, e.g. 30m (0: no limit).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    task_time_limit: Duration,
    /// Testing aid: hold each task this long before rendering it (heartbeating meanwhile).
    #[arg(long, hide = true, default_value = "0s", value_parser = parse_duration)]
    debug_task_delay: Duration,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Scene file (.gltf with its buffers and images, or .glb).
    scene: PathBuf,
    #[command(flatten)]
    client: ClientArgs,
    /// Frames to render: N, A-B (inclusive) or A-BxSTEP (every STEP-th frame from
    /// A); frame 1 is scene time 0 (see --fps).
    #[arg(long, default_value = "1", value_name = "A-B[xSTEP]")]
    frames: FrameRange,
    /// Tile size in pixels.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=MAX_IMAGE_SIDE as i64))]
    tile: u32,
    /// Samples per pixel.
    #[arg(long, default_value_t = 64)]
    spp: u32,
    /// Split each tile's samples into tasks of this many samples (default: one task per tile).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_SPP as i64))]
    samples_per_task: Option<u32>,
    /// Image width in pixels.
    #[arg(long, default_value_t = 960)]
    width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 540)]
    height: u32,
    /// Maximum number of bounces of a path.
    #[arg(long, default_value_t = 8)]
    max_depth: u32,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Camera: name or index in the glTF file.
    #[arg(long)]
    camera: Option<CameraSelect>,
    /// Environment: a grey value, "R,G,B", or an .hdr/.exr map (uploaded with the scene).
    #[arg(long)]
    env: Option<EnvironmentSpec>,
    #[command(flatten)]
    time: TimeArgs,
    /// Priority (-1000..1000); higher runs first, equal priorities in submission order.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    priority: i32,
    /// Denoise each finished frame (once, on the full frame) on the coordinator.
    #[arg(long)]
    denoise: bool,
    /// Output formats, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "exr,png")]
    format: Vec<OutputFormat>,
    /// Exposure in stops for PNG output (-64 to 64).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = crate::output::parse_exposure)]
    exposure: f32,
    /// View transform for PNG output.
    #[arg(long, value_enum, default_value_t = ViewTransform::Agx)]
    view: ViewTransform,
    /// When every frame is done, encode the PNG frames into an H.264 MP4 next to
    /// them on the coordinator (output `preview.mp4`; needs ffmpeg there). Adds png
    /// to --format when it is missing.
    #[arg(long)]
    preview_movie: bool,
    /// Job name (default: the scene's file name).
    #[arg(long)]
    name: Option<String>,
    /// Project (default: your only project, or "default").
    #[arg(long, env = "TESSERA_PROJECT")]
    project: Option<String>,
    /// Follow the job with a progress bar after submitting.
    #[arg(long)]
    watch: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Job id (omit to list the jobs of your projects, newest first).
    job: Option<i64>,
    #[command(flatten)]
    client: ClientArgs,
    /// Without a job: only this project's jobs.
    #[arg(long, env = "TESSERA_PROJECT")]
    project: Option<String>,
    /// Without a job: list at most this many (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
    /// Without a job: list jobs older than this job id (the next page).
    #[arg(long)]
    after: Option<i64>,
    /// Print JSON instead of text (with every task when a job is given).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    job: i64,
    #[command(flatten)]
    client: ClientArgs,
    /// Download the frames into this folder when the job is done.
    #[arg(long)]
    download: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    job: i64,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct PriorityArgs {
    job: i64,
    /// The new priority (-1000..1000).
    #[arg(allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    priority: i32,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Sum by project, user or job.
    #[arg(long, value_enum, default_value_t = super::usage::GroupBy::Project)]
    by: super::usage::GroupBy,
    #[arg(long)]
    project: Option<String>,
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    job: Option<i64>,
    /// Only attempts since then: a duration ago (24h, 30d) or a UTC time (2026-12-01T00:00:00Z).
    #[arg(long, value_parser = parse_since)]
    since: Option<i64>,
    /// Price per device-hour: one for all (2.5) or per backend (cuda=2.5,cpu=0.4).
    #[arg(long)]
    price_per_device_hour: Option<super::usage::Prices>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    job: i64,
    #[command(flatten)]
    client: ClientArgs,
    /// Folder to write the frames to.
    #[arg(short, long, default_value = ".")]
    output: PathBuf,
}

impl FarmCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            FarmCommand::Coordinator(args) => match args.command {
                Some(CoordinatorCommand::Token(cmd)) => token(cmd),
                Some(CoordinatorCommand::User(cmd)) => user(cmd),
                Some(CoordinatorCommand::Project(cmd)) => project(cmd),
                Some(CoordinatorCommand::Audit(args)) => audit(args),
                None => serve(args.serve),
            },
            FarmCommand::Worker(args) => run_worker(args),
            FarmCommand::Submit(args) => submit(args),
            FarmCommand::Status(args) => status(args),
            FarmCommand::Watch(args) => {
                let api = args.client.api()?;
                client::watch(&api, args.job, Duration::from_millis(500))?;
                if let Some(dir) = args.download {
                    for file in client::download(&api, args.job, &dir)? {
                        eprintln!("Wrote {}", file.display());
                    }
                }
                Ok(())
            }
            FarmCommand::Cancel(a) => control(a, "cancel"),
            FarmCommand::Pause(a) => control(a, "pause"),
            FarmCommand::Resume(a) => control(a, "resume"),
            FarmCommand::Retry(a) => control(a, "retry"),
            FarmCommand::Usage(a) => usage(a),
            FarmCommand::Priority(a) => {
                let api = a.client.api()?;
                client::set_priority(&api, a.job, a.priority)?;
                eprintln!("Job {} now has priority {}", a.job, a.priority);
                Ok(())
            }
            FarmCommand::RenderProcess => render_process::serve(),
            FarmCommand::CheckScene => validate::serve_check(),
            FarmCommand::Download(args) => {
                let api = args.client.api()?;
                let files = client::download(&api, args.job, &args.output)?;
                if files.is_empty() {
                    eprintln!("Job {} has no finished frames yet", args.job);
                }
                for file in files {
                    eprintln!("Wrote {}", file.display());
                }
                Ok(())
            }
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.lease <= args.heartbeat {
        bail!("--lease ({:?}) must be longer than --heartbeat ({:?})", args.lease, args.heartbeat);
    }
    if args.max_attempts == 0 || args.blocklist_after == 0 {
        bail!("--max-attempts and --blocklist-after must be at least 1");
    }
    if args.scene_check_time_limit.is_zero() {
        bail!("--scene-check-time-limit must be longer than 0 s");
    }
    if !(args.rate_limit.is_finite() && args.rate_limit >= 0.0) {
        bail!("--rate-limit must be 0 (unlimited) or more requests per second");
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(super::tls::CertFiles { cert, key }),
        _ => None,
    };
    coordinator::run(CoordinatorOptions {
        listen: args.listen,
        tls,
        insecure_http: args.insecure_http,
        data: args.data.data,
        config: SchedConfig {
            lease_ms: args.lease.as_millis() as u64,
            heartbeat_ms: args.heartbeat.as_millis().max(1) as u64,
            max_attempts: args.max_attempts,
            blocklist_after: args.blocklist_after,
            online_ms: (args.lease + args.max_wait).as_millis() as u64,
            jobs: JobLimits {
                max_tasks: args.max_tasks,
                max_frames: args.max_frames,
                max_width: args.max_width,
                max_height: args.max_height,
                max_spp: args.max_spp,
            },
        },
        limits: Limits {
            max_wait_ms: args.max_wait.as_millis() as u64,
            max_blob_bytes: args.max_file_mib.saturating_mul(1 << 20),
            ..Limits::default()
        },
        scene_check: SceneCheckOptions {
            time_limit: args.scene_check_time_limit,
            memory_limit: args.scene_check_memory_limit,
            skip: args.debug_skip_scene_check,
        },
        rate_limit: args.rate_limit,
    })
}

fn open_store(data: &DataArg) -> anyhow::Result<rusqlite::Connection> {
    super::private::create_dir(&data.data).with_context(|| format!("creating {}", data.data.display()))?;
    Ok(store::open(&store::db_path(&data.data))?)
}

/// Milliseconds since the epoch as a UTC time, for people.
fn time_text(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create(args) => {
            let conn = open_store(&args.data)?;
            let expires = args.expires.map(|d| store::now_ms().saturating_add(d.as_millis() as i64));
            let (new, who) = match (&args.user, &args.enrolment) {
                (Some(user), _) => {
                    access::ensure_user(&conn, user)?;
                    if args.admin {
                        access::set_user(&conn, user, true)?;
                    }
                    (NewToken::User(user), format!("user {user}"))
                }
                (None, Some(label)) => (NewToken::Enrolment(label), format!("enrolling workers ({label})")),
                (None, None) => bail!("give --user NAME or --enrolment"),
            };
            let token = auth::create_token(&conn, new, expires)?;
            let id = &auth::hash_token(&token)[..12];
            super::audit::record_local(&conn, "token.create", None, &format!("token:{id} for {who}"))?;
            let until = expires.map_or(String::new(), |e| format!(", valid until {}", time_text(e)));
            match &args.output {
                Some(path) => {
                    super::private::write_file(path, &format!("{token}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("Created a token for {who}{until} in {} (mode 0600)", path.display());
                }
                None => {
                    eprintln!("Created a token for {who}{until}; keep it secret, it is not shown again:");
                    println!("{token}");
                }
            }
        }
        TokenCommand::List(data) => {
            let conn = open_store(&data)?;
            println!("{:<12}  {:<9}  {:<8}  {:<20} name", "id", "kind", "status", "expires");
            for t in auth::list_tokens(&conn)? {
                let expired = t.expires_ms.is_some_and(|e| e <= store::now_ms());
                let status = if t.revoked {
                    "revoked"
                } else if expired {
                    "expired"
                } else {
                    "active"
                };
                let expires = t.expires_ms.map_or("-".into(), time_text);
                println!("{:<12}  {:<9}  {:<8}  {:<20} {}", t.id, t.kind, status, expires, t.name);
            }
        }
        TokenCommand::Revoke { id, data } => {
            let conn = open_store(&data)?;
            auth::revoke_token(&conn, &id)?;
            super::audit::record_local(&conn, "token.revoke", None, &format!("token:{id}"))?;
            eprintln!("Revoked; a running coordinator refuses the token from its next request on");
        }
    }
    Ok(())
}

fn user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { name, admin, data } => {
            let conn = open_store(&data)?;
            access::set_user(&conn, &name, admin)?;
            super::audit::record_local(&conn, "user.add", None, &format!("user:{name} admin:{admin}"))?;
            eprintln!("User {name}{}", if admin { " is an admin" } else { " added" });
        }
        UserCommand::List(data) => {
            println!("{:<24} {:<6} projects", "name", "admin");
            for u in access::list_users(&open_store(&data)?)? {
                let projects: Vec<String> = u.projects.iter().map(|(p, r)| format!("{p}:{}", r.as_str())).collect();
                println!("{:<24} {:<6} {}", u.name, if u.admin { "yes" } else { "" }, projects.join(" "));
            }
        }
        UserCommand::Grant { name, project, role, data } => {
            let conn = open_store(&data)?;
            access::grant(&conn, &name, &project, role)?;
            super::audit::record_local(&conn, "user.grant", Some(&project), &format!("user:{name} {}", role.as_str()))?;
            eprintln!("{name} is a {} in project {project}", role.as_str());
        }
        UserCommand::Ungrant { name, project, data } => {
            let conn = open_store(&data)?;
            access::ungrant(&conn, &name, &project)?;
            super::audit::record_local(&conn, "user.ungrant", Some(&project), &format!("user:{name}"))?;
            eprintln!("{name} is no longer a member of project {project}");
        }
        UserCommand::Remove { name, data } => {
            let conn = open_store(&data)?;
            access::remove_user(&conn, &name)?;
            super::audit::record_local(&conn, "user.remove", None, &format!("user:{name}"))?;
            eprintln!("Removed user {name} and revoked their tokens");
        }
    }
    Ok(())
}

fn project(cmd: ProjectCommand) -> anyhow::Result<()> {
    let limit = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
    match cmd {
        ProjectCommand::Create { name, quotas, data } => {
            let conn = open_store(&data)?;
            access::set_project(&conn, &name, true, &quotas.change())?;
            super::audit::record_local(&conn, "project.create", Some(&name), &format!("{:?}", quotas.change()))?;
            eprintln!("Created project {name}");
        }
        ProjectCommand::Set { name, quotas, data } => {
            let conn = open_store(&data)?;
            access::set_project(&conn, &name, false, &quotas.change())?;
            super::audit::record_local(&conn, "project.set", Some(&name), &format!("{:?}", quotas.change()))?;
            eprintln!("Changed project {name}");
        }
        ProjectCommand::List(data) => {
            println!(
                "{:<24} {:>12} {:>12} {:>16} {:>8}",
                "name", "max queued", "max running", "max storage", "max prio"
            );
            for p in access::list_projects(&open_store(&data)?)? {
                let q = &p.quotas;
                println!(
                    "{:<24} {:>12} {:>12} {:>16} {:>8}",
                    p.name,
                    limit(q.max_queued_tasks),
                    limit(q.max_running_tasks),
                    limit(q.max_storage_bytes),
                    q.max_priority
                );
            }
        }
    }
    Ok(())
}

fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let conn = open_store(&args.data)?;
    let filter = super::audit::Filter { since_ms: args.since, user: args.user, project: args.project };
    let mut page = super::protocol::PageQuery { limit: Some(super::protocol::PageQuery::MAX), after: None };
    if !args.json {
        println!(
            "{:<20}  {:<16} {:<9} {:<12} {:<16} {:<24} {:<8} source",
            "time", "user", "role", "project", "action", "target", "result"
        );
    }
    loop {
        let entries = super::audit::read(&conn, &filter, page)?;
        for e in &entries.items {
            if args.json {
                println!("{}", serde_json::to_string(e)?);
            } else {
                println!(
                    "{:<20}  {:<16} {:<9} {:<12} {:<16} {:<24} {:<8} {}",
                    time_text(e.at_ms),
                    e.user,
                    e.role,
                    e.project.as_deref().unwrap_or("-"),
                    e.action,
                    e.target.as_deref().unwrap_or("-"),
                    format!("{} {}", e.result, e.status),
                    e.source.as_deref().unwrap_or("-")
                );
            }
        }
        match entries.next {
            Some(next) => page.after = Some(next),
            None => return Ok(()),
        }
    }
}

fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let token = args.client.token("an enrolment token, such as DATA/tokens/enrolment.token")?;
    let mut worker = Worker::start(WorkerOptions {
        coordinator: args.client.coordinator.clone(),
        token,
        ca_cert: args.client.ca_cert.clone(),
        backend: args.backend.backend,
        backend_options: args.backend.options(),
        name: args.name.unwrap_or_else(worker::host_name),
        cache: args.cache,
        skip_bench: args.skip_bench,
        wait: args.wait,
        task_delay: args.debug_task_delay,
        max_tasks: args.max_tasks,
        memory_limit: args.memory_limit,
        task_time_limit: Some(args.task_time_limit).filter(|d| !d.is_zero()),
    })?;
    worker.run()
}

fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let api = args.client.api()?;
    let settings = RenderSettings {
        width: args.width,
        height: args.height,
        spp: args.spp,
        max_depth: args.max_depth,
        seed: args.seed,
        camera: args.camera,
        environment: args.env,
        fps: args.time.fps,
        motion_blur: args.time.motion_blur(),
        animation: args.time.animation.unwrap_or_default(),
    };
    settings.validate()?;
    let name = args
        .name
        .unwrap_or_else(|| args.scene.file_name().map_or_else(|| "job".into(), |n| n.to_string_lossy().into_owned()));
    let mut formats = args.format;
    if args.preview_movie && !formats.contains(&OutputFormat::Png) {
        formats.push(OutputFormat::Png);
    }
    let spec = JobSpec {
        name,
        project: args.project,
        scene: SceneManifest { root: String::new(), files: Vec::new() },
        samples_per_task: args.samples_per_task.unwrap_or(settings.spp).max(1),
        settings,
        frames: args.frames,
        tile: args.tile,
        priority: args.priority,
        denoise: args.denoise,
        formats,
        output: OutputOptions { exposure: args.exposure, view: args.view },
        preview_movie: args.preview_movie,
    };
    let reply = client::submit(&api, &args.scene, spec)?;
    eprintln!("Submitted job {} ({} tasks)", reply.job_id, reply.tasks);
    println!("{}", reply.job_id);
    if args.watch {
        client::watch(&api, reply.job_id, Duration::from_millis(500))?;
    }
    Ok(())
}

fn status(args: StatusArgs) -> anyhow::Result<()> {
    let api = args.client.api()?;
    match args.job {
        Some(job) => {
            let s = client::job_status(&api, job, args.json)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                client::print_status(&s);
            }
        }
        None => {
            let page = super::protocol::PageQuery { limit: Some(args.limit), after: args.after };
            let jobs = client::list_jobs(&api, args.project.as_deref(), page)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                client::print_jobs(&jobs.items);
                if let Some(next) = jobs.next {
                    eprintln!("More jobs: --after {next}");
                }
            }
        }
    }
    Ok(())
}

fn usage(args: UsageArgs) -> anyhow::Result<()> {
    let api = args.client.api()?;
    let filter = super::usage::Filter {
        by: args.by,
        project: args.project,
        user: args.user,
        job: args.job,
        since_ms: args.since,
        ..Default::default()
    };
    let rows = client::usage(&api, &filter)?;
    let prices = args.price_per_device_hour.unwrap_or_default();
    if args.json {
        let priced: Vec<serde_json::Value> = rows
            .iter()
            .map(|u| {
                let mut v = serde_json::to_value(u).unwrap_or_default();
                v["cost"] = prices.cost(u).map_or(serde_json::Value::Null, serde_json::Value::from);
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&priced)?);
        return Ok(());
    }
    println!(
        "{:<16} {:<8} {:<24} {:>8} {:>14} {:>14} {:>12} {:>10}",
        "key", "backend", "device", "attempts", "worker-hours", "samples", "energy kWh", "cost"
    );
    for u in &rows {
        let energy = u.energy_j.map_or("-".to_string(), |j| format!("{:.4}", j / 3.6e6));
        let cost = prices.cost(u).map_or("-".to_string(), |c| format!("{c:.2}"));
        println!(
            "{:<16} {:<8} {:<24} {:>8} {:>14.4} {:>14} {:>12} {:>10}",
            u.key,
            u.backend,
            u.device,
            u.attempts,
            u.worker_seconds / 3600.0,
            u.samples,
            energy,
            cost
        );
    }
    Ok(())
}

fn control(args: JobArgs, action: &str) -> anyhow::Result<()> {
    let api = args.client.api()?;
    let state = client::control(&api, args.job, action)?;
    eprintln!("Job {} is now {state}", args.job);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
