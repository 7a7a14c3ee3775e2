//! Shared by the farm tests: a coordinator and its workers as processes in a
//! temporary folder, a raw HTTP client, and image comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;
use tessera::farm::http::Api;
use tessera::farm::protocol::{encode_result, JobStatus, Lease, API};
use tessera::render::film::FrameImage;
use tessera::render::task::{PixelSums, TileResult};

/// The job every rendering test submits (and `tessera render` reproduces).
pub const QUALITY: [&str; 8] = ["--width", "64", "--height", "48", "--spp", "4", "--max-depth", "4"];

pub fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

pub fn cornell() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/cornell-box.gltf")
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs a command to completion, failing after `limit`.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn tessera");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{cmd:?} ran longer than {limit:?}\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn wait_until<T>(limit: Duration, what: &str, logs: impl Fn() -> String, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}\n{}", logs());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A coordinator in a temporary data folder, plus its workers.
pub struct Farm {
    pub dir: tempfile::TempDir,
    pub coordinator_args: Vec<String>,
    pub coordinator: Option<Proc>,
    pub addr: String,
    pub admin: String,
    /// The first-start enrolment token: workers register with it.
    pub worker_token: String,
    pub workers: Vec<Proc>,
    pub logs: usize,
    /// With TLS: "https", and the CA certificate clients and workers trust.
    pub scheme: &'static str,
    pub ca_cert: Option<PathBuf>,
}

impl Farm {
    pub fn start(args: &[&str]) -> Farm {
        // Raw reqwest clients of the tests need the TLS provider the binary installs.
        tessera::farm::tls::install_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut farm = Farm {
            dir,
            // Tests poll fast: no rate limit unless a test sets one.
            coordinator_args: args
                .iter()
                .map(|s| s.to_string())
                .chain(
                    (!args.contains(&"--rate-limit"))
                        .then(|| ["--rate-limit".into(), "0".into()])
                        .into_iter()
                        .flatten(),
                )
                .collect(),
            coordinator: None,
            addr: "127.0.0.1:0".into(),
            admin: String::new(),
            worker_token: String::new(),
            workers: Vec::new(),
            logs: 0,
            scheme: "http",
            ca_cert: None,
        };
        farm.start_coordinator();
        let tokens = farm.data().join("tokens");
        let token = |f: &str| std::fs::read_to_string(tokens.join(f)).unwrap().trim().to_string();
        farm.admin = token("admin.token");
        farm.worker_token = token("enrolment.token");
        farm
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_file(&mut self, name: &str) -> std::fs::File {
        self.logs += 1;
        std::fs::File::create(self.dir.path().join(format!("{:02}-{name}.log", self.logs))).unwrap()
    }

    /// Every process log so far, for failure messages.
    pub fn logs(&self) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                format!("--- {}\n{}", f.display(), tail.into_iter().rev().collect::<Vec<_>>().join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Starts the coordinator on `self.addr` (a free port the first time).
    pub fn start_coordinator(&mut self) {
        let address = self.data().join("address");
        let _ = std::fs::remove_file(&address);
        let log = self.log_file("coordinator");
        let child = tessera()
            .args(["-v", "coordinator", "--listen", &self.addr])
            .arg("--data")
            .arg(self.data())
            .args(&self.coordinator_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.coordinator = Some(Proc { child });
        self.addr = wait_until(
            Duration::from_secs(30),
            "the coordinator's address",
            || self.logs(),
            || std::fs::read_to_string(&address).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        );
    }

    pub fn kill_coordinator(&mut self) {
        self.coordinator.take().expect("running").kill9();
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn api(&self, token: &str) -> Api {
        Api::with_ca(&self.url(), token, self.ca_cert.as_deref()).unwrap()
    }

    pub fn add_worker(&mut self, extra: &[&str]) {
        let n = self.workers.len();
        let log = self.log_file(&format!("worker{n}"));
        let cache = self.dir.path().join(format!("cache{n}"));
        let child = tessera()
            .args(["-v", "worker", "--backend", "cpu", "--threads", "1", "--skip-bench", "--wait", "1s"])
            .args(["--coordinator", &self.url(), "--token", &self.worker_token, "--name", &format!("w{n}")])
            .arg("--cache")
            .arg(cache)
            .args(self.ca_cert.iter().flat_map(|ca| [std::ffi::OsStr::new("--ca-cert"), ca.as_os_str()]))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.workers.push(Proc { child });
    }

    /// Waits until `n` workers have registered.
    pub fn wait_workers(&self, n: usize) {
        let api = self.api(&self.admin);
        wait_until(
            Duration::from_secs(60),
            "workers to register",
            || self.logs(),
            || {
                let workers: Value = api.json(api.request(reqwest::Method::GET, &format!("{API}/workers"))).ok()?;
                (workers["items"].as_array()?.len() >= n).then_some(())
            },
        );
    }

    /// Runs `tessera coordinator ARGS --data DATA`; returns its stdout.
    pub fn admin_cli(&self, args: &[&str]) -> String {
        let mut cmd = tessera();
        cmd.arg("coordinator").args(args).arg("--data").arg(self.data());
        let out = run(cmd, Duration::from_secs(30));
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Creates user `name` with `roles` (creating the projects), and returns a token of theirs.
    pub fn user(&self, name: &str, roles: &[(&str, &str)]) -> String {
        let projects = self.admin_cli(&["project", "list"]);
        for (project, role) in roles {
            if !projects.lines().any(|l| l.split_whitespace().next() == Some(*project)) {
                self.admin_cli(&["project", "create", project]);
            }
            self.admin_cli(&["user", "grant", name, project, role]);
        }
        self.admin_cli(&["token", "create", "--user", name])
    }

    /// Registers a fake worker over HTTP; returns its id and credential.
    pub fn register_fake(&self, name: &str) -> (i64, String) {
        let caps = serde_json::json!({
            "name": name, "version": "test", "backend": {"name": "cpu", "device": "fake"}, "probes": [],
            "memory_bytes": 0, "cpu_threads": 1, "bench_samples_per_second": 0.0
        });
        let r: Value = Client::new()
            .post(format!("{}{API}/workers", self.url()))
            .bearer_auth(&self.worker_token)
            .json(&caps)
            .send()
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .unwrap();
        (r["worker_id"].as_i64().unwrap(), r["credential"].as_str().unwrap().to_string())
    }

    pub fn client(&self, token: &str) -> Command {
        let mut cmd = tessera();
        cmd.env("TESSERA_COORDINATOR", self.url()).env("TESSERA_TOKEN", token);
        if let Some(ca) = &self.ca_cert {
            cmd.env("TESSERA_CA_CERT", ca);
        }
        cmd
    }

    /// `tessera submit` of the Cornell box; returns the job id.
    pub fn submit(&self, token: &str, frames: &str) -> i64 {
        let mut cmd = self.client(token);
        cmd.arg("submit").arg(cornell()).args(QUALITY).args(["--frames", frames, "--tile", "16", "--format", "exr"]);
        let out = run(cmd, Duration::from_secs(60));
        assert!(out.status.success(), "submit failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().parse().expect("submit prints the job id")
    }

    pub fn status(&self, job: i64) -> JobStatus {
        tessera::farm::client::job_status(&self.api(&self.admin), job, true).unwrap()
    }

    pub fn wait_status(&self, job: i64, limit: Duration, what: &str, f: impl Fn(&JobStatus) -> bool) -> JobStatus {
        wait_until(
            limit,
            what,
            || self.logs(),
            || tessera::farm::client::job_status(&self.api(&self.admin), job, true).ok().filter(|s| f(s)),
        )
    }

    /// `tessera download` into a fresh folder.
    pub fn download(&self, job: i64) -> PathBuf {
        let dir = self.dir.path().join(format!("out-{job}"));
        let mut cmd = self.client(&self.admin);
        cmd.args(["download", &job.to_string(), "-o"]).arg(&dir);
        let out = run(cmd, Duration::from_secs(60));
        assert!(out.status.success(), "download failed: {}", String::from_utf8_lossy(&out.stderr));
        dir
    }
}

/// Bit patterns of every layer of an image.
pub fn bits(image: &FrameImage) -> Vec<u32> {
    let mut v = vec![image.width, image.height];
    v.extend(image.color.iter().flatten().map(|x| x.to_bits()));
    v.extend(image.albedo.iter().flatten().map(|x| x.to_bits()));
    v.extend(image.normal.iter().flatten().map(|x| x.to_bits()));
    v.extend(image.variance.iter().flatten().map(|x| x.to_bits()));
    v.extend(image.depth.iter().map(|x| x.to_bits()));
    v.extend(image.samples.iter().map(|x| x.to_bits()));
    v
}

/// An HTTP client acting as users and as a (fake) worker.
pub struct Raw {
    pub http: Client,
    pub url: String,
}

impl Raw {
    pub fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }
}

/// Checks an error answer: status, JSON body, code.
pub fn refused(response: Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "expected {status} {code}");
    let body: Value = response.json().expect("error bodies are JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

pub fn fake_result(lease: &Lease) -> Vec<u8> {
    let t = lease.task;
    let pixel =
        PixelSums { radiance: [0.25; 3], count: t.samples.count(), radiance_sq: [0.0625; 3], ..Default::default() };
    encode_result(&TileResult {
        frame: t.frame,
        tile: t.tile,
        samples: t.samples,
        pixels: vec![pixel; t.tile.pixel_count()],
        rays: 1,
    })
}
