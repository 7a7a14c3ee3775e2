//! Farm load generator: many simulated workers in this process, on loopback,
//! against one `tessera coordinator` process holding one job of many tasks.
//!
//! Each simulated worker registers, then loops: long-poll a lease, upload a
//! small (correct-format, checksummed) tile result for it, repeat, until every
//! task is done. Reports leases/s over the whole run and the lease latency seen
//! by the workers (p50, p99, max), plus the coordinator's own histogram.
//!
//! ```text
//! cargo bench --bench farm_leases                      # 1,000 workers, 100,000 tasks
//! cargo bench --bench farm_leases -- --workers 200 --tasks 20000
//! ```
//!
//! The job is a 10×10 image of 1×1 tiles with `tasks / 100` samples split one
//! per task, so results stay tiny and the figure measures the coordinator
//! (HTTP, auth, group-committed SQLite), not rendering.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera::farm::client;
use tessera::farm::http::Api;
use tessera::farm::protocol::{
    encode_result, Capabilities, FrameRange, JobSpec, Lease, LeaseRequest, OutputFormat, RegisterResponse,
    SceneManifest, API,
};
use tessera::output::OutputOptions;
use tessera::render::settings::RenderSettings;
use tessera::render::task::{PixelSums, TileResult};

fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number, got {v}")))
        .unwrap_or(default)
}

struct Coordinator(Child);

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_coordinator(data: &Path) -> (Coordinator, String) {
    let log = std::fs::File::create(data.with_extension("log")).expect("coordinator log");
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["coordinator", "--listen", "127.0.0.1:0", "--lease", "300s", "--heartbeat", "60s", "--max-wait", "2s"])
        .arg("--data")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the coordinator");
    let coordinator = Coordinator(child);
    let address = data.join("address");
    let start = Instant::now();
    while !address.is_file() {
        assert!(start.elapsed() < Duration::from_secs(30), "the coordinator did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = std::fs::read_to_string(address).unwrap().trim().to_string();
    (coordinator, format!("http://{addr}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let workers = flag("--workers", 1000);
    let tasks = flag("--tasks", 100_000);
    let spp = (tasks / 100).max(1) as u32;
    let tasks = u64::from(spp) * 100;

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("farm");
    let (_coordinator, url) = start_coordinator(&data);
    let read = |f: &str| std::fs::read_to_string(data.join("tokens").join(f)).unwrap().trim().to_string();
    let (user_token, worker_token) = (read("admin.token"), read("enrolment.token"));

    let scene = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/cornell-box.gltf");
    let spec = JobSpec {
        name: "load".into(),
        project: None,
        scene: SceneManifest { root: String::new(), files: Vec::new() },
        settings: RenderSettings { width: 10, height: 10, spp, max_depth: 1, ..Default::default() },
        frames: FrameRange::single(0),
        tile: 1,
        samples_per_task: 1,
        priority: 0,
        denoise: false,
        formats: vec![OutputFormat::Exr],
        output: OutputOptions::default(),
        preview_movie: false,
    };
    let submitted = Instant::now();
    let reply = client::submit(&Api::new(&url, &user_token).unwrap(), &scene, spec).expect("submit");
    assert_eq!(reply.tasks, tasks);
    eprintln!("Submitted {} tasks in {:.2} s", reply.tasks, submitted.elapsed().as_secs_f64());

    tessera::farm::tls::install_provider();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let completed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let latencies: Vec<Duration> = runtime.block_on(async {
        let http = reqwest::Client::builder().pool_max_idle_per_host(workers as usize).build().unwrap();
        let mut handles = Vec::new();
        for i in 0..workers {
            let (http, url, token, completed) = (http.clone(), url.clone(), worker_token.clone(), completed.clone());
            handles.push(tokio::spawn(async move { simulated_worker(i, http, url, token, completed, tasks).await }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.expect("worker task"));
        }
        all
    });
    let elapsed = started.elapsed().as_secs_f64();

    let mut sorted = latencies;
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("farm_leases: {workers} simulated workers, {tasks} tasks, loopback");
    println!(
        "  {} leases (each followed by its result upload) in {elapsed:.2} s: {:.0} leases/s",
        sorted.len(),
        sorted.len() as f64 / elapsed
    );
    println!(
        "  lease latency seen by workers: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(*sorted.last().unwrap())
    );
    let metrics = reqwest::blocking::Client::new()
        .get(format!("{url}/metrics"))
        .bearer_auth(&user_token)
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    let value = |name: &str| {
        metrics.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0)
    };
    let (sum, count) = (value("tessera_lease_latency_seconds_sum "), value("tessera_lease_latency_seconds_count "));
    println!("  coordinator-side mean lease latency: {:.2} ms over {count} leases", sum / count.max(1.0) * 1e3);
}

/// One simulated worker; returns the latency of each lease it was granted.
async fn simulated_worker(
    i: u64,
    http: reqwest::Client,
    url: String,
    token: String,
    completed: Arc<AtomicU64>,
    total: u64,
) -> Vec<Duration> {
    let caps = Capabilities {
        name: format!("sim-{i}"),
        version: "bench".into(),
        backend: tessera::backend::BackendInfo { name: "cpu".into(), device: "simulated".into() },
        probes: Vec::new(),
        memory_bytes: 0,
        cpu_threads: 1,
        bench_samples_per_second: 0.0,
    };
    let reg: RegisterResponse = http
        .post(format!("{url}{API}/workers"))
        .bearer_auth(&token)
        .json(&caps)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("register")
        .json()
        .await
        .expect("register reply");
    let (wid, token) = (reg.worker_id, reg.credential);
    let mut latencies = Vec::new();
    while completed.load(Ordering::Relaxed) < total {
        let start = Instant::now();
        let response = http
            .post(format!("{url}{API}/workers/{wid}/lease"))
            .bearer_auth(&token)
            .json(&LeaseRequest { wait_ms: 500 })
            .send()
            .await
            .expect("lease request");
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            continue;
        }
        let lease: Lease = response.error_for_status().expect("lease").json().await.expect("lease body");
        latencies.push(start.elapsed());
        let t = lease.task;
        let count = t.samples.count();
        let pixel =
            PixelSums { radiance: [0.5; 3], count, radiance_sq: [0.25; 3], albedo: [0.5; 3], ..Default::default() };
        let result = TileResult {
            frame: t.frame,
            tile: t.tile,
            samples: t.samples,
            pixels: vec![pixel; t.tile.pixel_count()],
            rays: 1,
        };
        http.put(format!("{url}{API}/workers/{wid}/leases/{}/result", lease.lease_id))
            .bearer_auth(&token)
            .body(encode_result(&result))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("upload");
        completed.fetch_add(1, Ordering::Relaxed);
    }
    latencies
}
