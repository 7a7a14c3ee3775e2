//! Farm subcommands of the `tessera` binary.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use super::auth::{self, Role};
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
    /// Run the farm coordinator (HTTP API, scheduler, SQLite state), or manage its tokens.
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
    /// Download a job's finished frames.
    Download(DownloadArgs),
    /// A worker's render process (started by `tessera worker`; speaks on stdin/stdout).
    #[command(name = "render-process", hide = true)]
    RenderProcess,
    /// The coordinator's scene check (started by `tessera coordinator`; speaks on stdin/stdout).
    #[command(name = "check-scene", hide = true)]
    CheckScene,
}

/// A duration: "500ms", "10s", "2m", or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let value: f64 = number.trim().parse().map_err(|_| format!("\"{s}\" is not a duration (e.g. 500ms, 10s, 2m)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("\"{s}\": unknown unit \"{unit}\" (use ms, s, m or h)")),
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
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (it is stored hashed and cannot be shown again).
    Create(TokenCreateArgs),
    /// List tokens (ids, kinds, names; never the secrets).
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
#[command(group(clap::ArgGroup::new("who").required(true).args(["user", "worker"])))]
struct TokenCreateArgs {
    /// A user token for NAME (users see only their own jobs).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// With --user: an admin token, which sees and controls every job.
    #[arg(long, requires = "user")]
    admin: bool,
    /// A worker token, labelled LABEL (default "workers").
    #[arg(long, value_name = "LABEL", num_args = 0..=1, default_missing_value = "workers")]
    worker: Option<String>,
    #[command(flatten)]
    data: DataArg,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (`0.0.0.0:7878` for a farm; port 0 picks a free port,
    /// written to DATA/address).
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: String,
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
    /// Access token (an operator creates one with `tessera coordinator token create`).
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ClientArgs {
    fn api(&self) -> anyhow::Result<Api> {
        let Some(token) = self.token.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
            bail!(
                "no token: pass --token or set TESSERA_TOKEN (an operator creates one with \
                 `tessera coordinator token create --user NAME`)"
            );
        };
        Ok(Api::new(&self.coordinator, token)?)
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
    /// Frames to render: N or A-B (inclusive); frame 1 is scene time 0 (see --fps).
    #[arg(long, default_value = "1")]
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
    /// Job name (default: the scene's file name).
    #[arg(long)]
    name: Option<String>,
    /// Follow the job with a progress bar after submitting.
    #[arg(long)]
    watch: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Job id (omit to list your jobs).
    job: Option<i64>,
    #[command(flatten)]
    client: ClientArgs,
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
    coordinator::run(CoordinatorOptions {
        listen: args.listen,
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
    })
}

fn open_store(data: &DataArg) -> anyhow::Result<rusqlite::Connection> {
    std::fs::create_dir_all(&data.data).with_context(|| format!("creating {}", data.data.display()))?;
    Ok(store::open(&store::db_path(&data.data))?)
}

fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create(args) => {
            let conn = open_store(&args.data)?;
            let (role, name) = match (args.user, args.worker) {
                (Some(user), _) => (if args.admin { Role::Admin } else { Role::User }, user),
                (None, Some(label)) => (Role::Worker, label),
                (None, None) => bail!("give --user NAME or --worker"),
            };
            let token = auth::create_token(&conn, role, &name)?;
            eprintln!("Created a {} token for {name}; keep it secret, it is not shown again:", role.as_str());
            println!("{token}");
        }
        TokenCommand::List(data) => {
            let conn = open_store(&data)?;
            println!("{:<12}  {:<6}  {:<8} name", "id", "kind", "status");
            for t in auth::list_tokens(&conn)? {
                println!("{:<12}  {:<6}  {:<8} {}", t.id, t.role, if t.revoked { "revoked" } else { "active" }, t.name);
            }
        }
        TokenCommand::Revoke { id, data } => {
            let conn = open_store(&data)?;
            auth::revoke_token(&conn, &id)?;
            eprintln!("Revoked; a running coordinator refuses the token within {:?}", auth::CACHE_TTL);
        }
    }
    Ok(())
}

fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let Some(token) = args.client.token.clone().filter(|t| !t.trim().is_empty()) else {
        bail!("no token: pass --token or set TESSERA_TOKEN (a worker token, from DATA/tokens/worker.token)");
    };
    let mut worker = Worker::start(WorkerOptions {
        coordinator: args.client.coordinator.clone(),
        token: token.trim().to_string(),
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
        animation: args.time.animation.unwrap_or_default(),
    };
    settings.validate()?;
    let name = args
        .name
        .unwrap_or_else(|| args.scene.file_name().map_or_else(|| "job".into(), |n| n.to_string_lossy().into_owned()));
    let spec = JobSpec {
        name,
        scene: SceneManifest { root: String::new(), files: Vec::new() },
        samples_per_task: args.samples_per_task.unwrap_or(settings.spp).max(1),
        settings,
        frames: args.frames,
        tile: args.tile,
        priority: args.priority,
        denoise: args.denoise,
        formats: args.format,
        output: OutputOptions { exposure: args.exposure, view: args.view },
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
            let jobs = client::list_jobs(&api)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                client::print_jobs(&jobs);
            }
        }
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
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
