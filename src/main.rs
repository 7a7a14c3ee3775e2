use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use tessera::backend::{self, BackendArgs};
use tessera::denoise::{self, DenoiseDevice};
use tessera::farm::cli::FarmCommand;
use tessera::farm::protocol::FrameRange;
use tessera::output::{self, OutputOptions, ViewTransform};
use tessera::render::bench::{self, BenchOptions};
use tessera::render::film::FrameImage;
use tessera::render::frame::render_frame;
use tessera::render::settings::{prepare_frame, RenderSettings, TimeArgs, MAX_DEPTH, MAX_IMAGE_SIDE, MAX_SPP};
use tessera::scene::{
    default_memory_limit, parse_memory_size, CameraSelect, Confinement, Environment, EnvironmentSpec, LoadOptions,
    Scene,
};

/// Tessera: a physically based path tracer with CPU, wgpu and CUDA backends and a render farm.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render a glTF scene to EXR and/or PNG.
    Render(RenderArgs),
    /// Print what a scene contains and how its BVH looks, or list render devices.
    Info(InfoArgs),
    /// Measure whole-frame throughput (samples/s, rays/s) of a backend.
    Bench(BenchArgs),
    /// Denoise a multi-layer EXR written by `tessera render` (needs albedo and normal layers).
    Denoise(DenoiseArgs),
    /// Encode a numbered PNG sequence into an H.264 MP4 preview (needs ffmpeg).
    Encode(EncodeArgs),
    #[command(flatten)]
    Farm(FarmCommand),
}

/// Options that say how to render (shared by `render` and `bench`).
#[derive(Debug, Args)]
struct QualityArgs {
    /// Image width in pixels.
    #[arg(long, default_value_t = 960, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_IMAGE_SIDE)))]
    width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 540, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_IMAGE_SIDE)))]
    height: u32,
    /// Samples per pixel.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SPP)))]
    spp: u32,
    /// Maximum number of bounces of a path.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DEPTH)))]
    max_depth: u32,
    /// Camera to render through: its name or index in the glTF file (default: the first,
    /// or a camera framed on the scene when the file has none).
    #[arg(long)]
    camera: Option<CameraSelect>,
    /// Environment light: a grey value ("0.5"), a colour ("R,G,B"), or an equirectangular
    /// .hdr/.exr map. Default: black when the scene's own lights carry a meaningful
    /// share of its light — a punctual light, or emissive surfaces giving at least 4 %
    /// of the power a white environment would (`tessera info` shows the figure) — else
    /// uniform white of radiance 1, so small emissive parts never leave a black frame.
    #[arg(long)]
    env: Option<EnvironmentSpec>,
    /// Random seed; the same seed renders the same image.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    #[command(flatten)]
    time: TimeArgs,
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    load: LoadArgs,
}

/// What a scene may reach and use while it loads (`render`, `info`, `bench`).
#[derive(Debug, Args)]
struct LoadArgs {
    /// Let the scene's URIs name files outside its folder (absolute paths, "..",
    /// symbolic links). Device files and FIFOs are refused all the same.
    #[arg(long)]
    allow_outside_paths: bool,
    /// Memory the scene, its textures, the environment map and the film may take:
    /// bytes or N KiB|MiB|GiB|TiB (default: the memory available now).
    #[arg(long, value_name = "BYTES", value_parser = parse_memory_size)]
    memory_limit: Option<u64>,
}

impl LoadArgs {
    fn options(&self) -> LoadOptions {
        LoadOptions {
            root: if self.allow_outside_paths { Confinement::Unconfined } else { Confinement::SceneFolder },
            memory_limit: self.memory_limit.unwrap_or_else(default_memory_limit),
            ..LoadOptions::default()
        }
    }
}

impl QualityArgs {
    fn settings(&self) -> RenderSettings {
        RenderSettings {
            width: self.width,
            height: self.height,
            spp: self.spp,
            max_depth: self.max_depth,
            seed: self.seed,
            camera: self.camera.clone(),
            environment: self.env.clone(),
            fps: self.time.fps,
            animation: self.time.animation.clone().unwrap_or_default(),
            motion_blur: self.time.motion_blur(),
        }
    }
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// Scene file (.gltf or .glb).
    scene: PathBuf,
    /// Output image(s): .exr (linear, with AOV layers) or .png (tone-mapped); repeatable.
    #[arg(short, long = "output", required = true)]
    outputs: Vec<PathBuf>,
    #[command(flatten)]
    quality: QualityArgs,
    /// Frame number: selects the scene time ((frame − 1) / fps, so frame 1 is the
    /// animation's start, as shots count frames from 1) and the noise pattern.
    #[arg(long, default_value_t = 1, conflicts_with = "frames")]
    frame: u32,
    /// Render a sequence, frames A-B (inclusive) or A-BxSTEP (every STEP-th frame
    /// from A), each at its own time. Every output names the frame with a run of
    /// '#': -o out/shot_####.exr writes shot_0001.exr, ….
    #[arg(long, value_name = "A-B[xSTEP]")]
    frames: Option<FrameRange>,
    /// Leave out the frames whose outputs all exist already (resumes a sequence).
    #[arg(long)]
    skip_existing: bool,
    /// Tile size in pixels; the image is rendered tile by tile.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_IMAGE_SIDE)))]
    tile: u32,
    /// Denoise the finished frame with Open Image Denoise (EXR output keeps the noisy image too).
    #[arg(long)]
    denoise: bool,
    #[command(flatten)]
    look: LookArgs,
}

/// How PNGs are tone-mapped.
#[derive(Debug, Args)]
struct LookArgs {
    /// Exposure in stops for PNG output (-64 to 64).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true, value_parser = output::parse_exposure)]
    exposure: f32,
    /// View transform for PNG output.
    #[arg(long, value_enum, default_value_t = ViewTransform::Agx)]
    view: ViewTransform,
}

impl LookArgs {
    fn options(&self) -> OutputOptions {
        OutputOptions { exposure: self.exposure, view: self.view }
    }
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// Scene file to describe.
    scene: Option<PathBuf>,
    /// List the render backends and devices found on this machine.
    #[arg(long)]
    devices: bool,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Scene to render (default: the built-in Cornell box).
    scene: Option<PathBuf>,
    #[command(flatten)]
    quality: QualityArgs,
    /// The frame to render (its time in an animation, and with --motion-blur its shutter).
    #[arg(long, default_value_t = 1)]
    frame: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DenoiseArgs {
    /// Input EXR with beauty, albedo and normal layers.
    input: PathBuf,
    /// Output image (.exr or .png).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    look: LookArgs,
}

#[derive(Debug, Args)]
struct EncodeArgs {
    /// The frames: a PNG name with a run of '#' for the frame number (out/shot_####.png).
    frames_pattern: PathBuf,
    /// The movie to write (.mp4).
    #[arg(short, long)]
    output: PathBuf,
    /// Frames per second of the movie.
    #[arg(long, default_value_t = tessera::scene::animation::DEFAULT_FPS, value_parser = tessera::render::settings::parse_fps)]
    fps: f32,
    /// The frames to take, A-B or A-BxSTEP; default: every frame from the lowest
    /// number on disk to the highest (a gap is an error naming the missing frame).
    #[arg(long, value_name = "A-B[xSTEP]")]
    frames: Option<FrameRange>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Render(args) => render(args),
        Command::Info(args) => info(args),
        Command::Bench(args) => bench_command(args),
        Command::Denoise(args) => denoise_command(args),
        Command::Encode(args) => encode_command(args),
        Command::Farm(cmd) => cmd.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("tessera={level},warn")));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// Creates the requested backend and says which one runs (and why others were skipped).
fn create_backend(quality: &QualityArgs) -> Result<Box<dyn backend::Backend>> {
    let (backend, skipped) = backend::create(quality.backend.backend, &quality.backend.options())?;
    for line in skipped {
        eprintln!("{line}");
    }
    let info = backend.info();
    eprintln!("Backend: {} on {}", info.name, info.device);
    Ok(backend)
}

fn load_environment(settings: &RenderSettings, memory_limit: u64) -> Result<Option<Environment>> {
    Ok(settings.environment.as_ref().map(|spec| Environment::load_within(spec, memory_limit)).transpose()?)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}%  ETA {eta}  {per_sec} samples  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

fn render(args: RenderArgs) -> Result<()> {
    let settings = args.quality.settings();
    settings.validate()?;
    for out in &args.outputs {
        output::ImageFormat::from_path(out)?;
    }
    let frames = args.frames.unwrap_or(FrameRange::single(args.frame));
    let outputs_of = |frame: u32| -> Result<Vec<PathBuf>> {
        args.outputs
            .iter()
            .map(|out| match (output::frame_path(out, frame), args.frames.is_some()) {
                (Some(path), _) => Ok(path),
                (None, false) => Ok(out.clone()),
                (None, true) => bail!(
                    "{}: a sequence needs a run of '#' in each output name for the frame number (e.g. shot_####.exr)",
                    out.display()
                ),
            })
            .collect()
    };
    outputs_of(frames.first)?;
    let is_done =
        |frame: u32| -> Result<bool> { Ok(args.skip_existing && outputs_of(frame)?.iter().all(|p| p.exists())) };

    let load = args.quality.load.options();
    settings.check_memory(load.memory_limit)?;
    let scene = Scene::load_with(&args.scene, &load)?;
    warn_if_still(&scene, &settings);
    if settings.environment.is_none() {
        eprintln!("Lighting {} with {} (--env names another)", args.scene.display(), scene.default_light);
    }
    let remaining = load.memory_limit.saturating_sub(scene.memory_bytes);
    settings.check_memory(remaining).context("the scene and its film together")?;
    let env = load_environment(&settings, remaining)?;
    let mut backend = create_backend(&args.quality)?;

    let mut skipped = 0u64;
    let mut todo = 0u64;
    for frame in frames.iter() {
        if is_done(frame)? {
            skipped += 1
        } else {
            todo += 1
        }
    }
    let per_frame = settings.width as u64 * settings.height as u64 * settings.spp as u64;
    let bar = progress_bar(per_frame.saturating_mul(todo));
    let start = std::time::Instant::now();
    let mut rendered = 0u64;
    for frame in frames.iter() {
        if is_done(frame)? {
            continue;
        }
        rendered += 1;
        if args.frames.is_some() {
            bar.set_message(format!("frame {frame} ({rendered}/{todo})"));
        }
        let flat = prepare_frame(&scene, env.as_ref(), &settings, frame)?;
        backend.upload(&flat)?;
        let (film, stats) = render_frame(backend.as_mut(), &settings, frame, args.tile, &|n| {
            bar.inc(n);
            true
        })?;
        bar.suspend(|| {
            eprintln!(
                "{}Rendered {}x{} at {} spp in {:.2} s: {:.2} M samples/s, {:.1} M rays/s",
                if args.frames.is_some() { format!("Frame {frame}: ") } else { String::new() },
                settings.width,
                settings.height,
                settings.spp,
                stats.seconds,
                stats.samples_per_second() / 1e6,
                stats.rays_per_second() / 1e6
            )
        });
        let mut image = film.image();
        hint_if_nearly_black(&image, args.look.exposure, &bar);
        let noisy = if args.denoise {
            let device = if backend.info().name == "cuda" { DenoiseDevice::Cuda } else { DenoiseDevice::Cpu };
            let denoised = denoise::denoise(&image, device)?;
            Some(std::mem::replace(&mut image.color, denoised))
        } else {
            None
        };
        for out in outputs_of(frame)? {
            output::write_image(&out, &image, noisy.as_deref(), &args.look.options())
                .with_context(|| format!("writing {}", out.display()))?;
            bar.suspend(|| eprintln!("Wrote {}", out.display()));
        }
    }
    bar.finish_and_clear();
    if args.frames.is_some() {
        let seconds = start.elapsed().as_secs_f64();
        let mean = if rendered > 0 { seconds / rendered as f64 } else { 0.0 };
        eprintln!(
            "Sequence {frames}: {rendered} frames rendered, {skipped} already there, in {seconds:.2} s ({mean:.2} s per frame)"
        );
    }
    Ok(())
}

/// A mean below this (after exposure) reads as a black frame.
const NEARLY_BLACK: f32 = 0.002;

/// A frame that came out nearly black says what to try.
fn hint_if_nearly_black(image: &FrameImage, exposure: f32, bar: &ProgressBar) {
    let mean = image.mean_luminance() * exposure.exp2();
    if mean < NEARLY_BLACK {
        bar.suspend(|| {
            eprintln!(
                "The image is nearly black (mean luminance {mean:.2e} after exposure): its lights may be \
                 hidden or weak; try --env 1 (a white environment) or a higher --exposure"
            )
        });
    }
}

/// `--motion-blur` on a scene that does not move: said once, the frames render as stills.
fn warn_if_still(scene: &Scene, settings: &RenderSettings) {
    if settings.motion_blur.is_some() && !scene.moves(&settings.animation) {
        eprintln!("--motion-blur: nothing in {} moves (no animation plays), so there is no blur", scene.path.display());
    }
}

fn info(args: InfoArgs) -> Result<()> {
    if args.devices {
        for probe in backend::probe_all() {
            let name = probe.kind.name();
            if probe.unavailable.is_empty() {
                for (i, device) in probe.devices.iter().enumerate() {
                    println!("{name:5} [{i}] {device}");
                }
            } else {
                println!("{name:5} unavailable: {}", probe.unavailable);
            }
        }
    }
    if let Some(path) = args.scene {
        let scene = Scene::load_with(&path, &args.load.options())?;
        println!("{}", scene.summary());
        println!("Without --env: {}", scene.default_light);
        let start = std::time::Instant::now();
        let flat = prepare_frame(&scene, None, &RenderSettings::default(), 0)?;
        let seconds = start.elapsed().as_secs_f64();
        println!("{}", tessera::accel::stats(&flat.nodes));
        println!("Prepare (incl. BVH build): {seconds:.3} s");
        println!("Device memory: {:.1} MiB", flat.byte_size() as f64 / (1024.0 * 1024.0));
    } else if !args.devices {
        bail!("give a scene file to describe, or --devices");
    }
    Ok(())
}

fn bench_command(args: BenchArgs) -> Result<()> {
    let settings = args.quality.settings();
    settings.validate()?;
    let load = args.quality.load.options();
    settings.check_memory(load.memory_limit)?;
    let backend = create_backend(&args.quality)?;
    let opts = BenchOptions { frame: args.frame, ..BenchOptions::default() };
    let report = bench::run_with(backend, args.scene.as_deref(), &settings, &opts, &load)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

fn encode_command(args: EncodeArgs) -> Result<()> {
    let sequence = output::movie::Sequence::find(&args.frames_pattern, args.frames)?;
    sequence.encode(&args.output, args.fps)?;
    let (first, last) = (sequence.frames[0].0, sequence.frames[sequence.frames.len() - 1].0);
    eprintln!(
        "Wrote {}: frames {first}-{last} ({} frames, {}x{}) at {} fps",
        args.output.display(),
        sequence.frames.len(),
        sequence.width,
        sequence.height,
        args.fps
    );
    Ok(())
}

fn denoise_command(args: DenoiseArgs) -> Result<()> {
    denoise::denoise_exr(&args.input, &args.output, &args.look.options(), DenoiseDevice::Cpu)?;
    eprintln!("Wrote {}", args.output.display());
    Ok(())
}
