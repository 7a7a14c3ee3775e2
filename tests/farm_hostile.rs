//! The farm against hostile users: scenes that break the loader or reach for
//! files outside their bundle, render processes that die, and a submit of
//! millions of tasks. Submits go through the raw HTTP API, so no client-side
//! check stands between the scene and the farm.

mod farm_support;
#[path = "common/hostile.rs"]
mod hostile;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use farm_support::*;
use hostile::{hostile_corpus, HostileCase};
use reqwest::blocking::Client;
use reqwest::Method as M;
use serde_json::{json, Value};
use tessera::farm::bundle::hash_file;
use tessera::farm::protocol::{
    BundleFile, FrameRange, JobSpec, JobState, JobStatus, Lease, OutputFormat, SceneManifest, API,
};
use tessera::output::{read_exr, OutputOptions};
use tessera::render::settings::RenderSettings;
use tessera::scene::EnvironmentSpec;

/// A random secret planted at `path`: a token, padded to an unusual size.
struct Secret {
    token: String,
    bytes: Vec<u8>,
}

impl Secret {
    fn new() -> Self {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).unwrap();
        let token = format!("SECRET{}", hex::encode(raw));
        let size = 1_000_003 + (u32::from_le_bytes(raw[..4].try_into().unwrap()) % 900_000) as usize;
        let mut bytes = token.clone().into_bytes();
        bytes.resize(size, b'#');
        Self { token, bytes }
    }

    fn plant(&self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &self.bytes).unwrap();
    }

    /// What of the secret `text` gives away: the token, the size, or the first
    /// word read as an integer (how an index accessor would report it).
    fn leaks(&self, text: &str) -> Vec<String> {
        let word = |b: [u8; 4]| [u32::from_le_bytes(b), u32::from_be_bytes(b)];
        let first: [u8; 4] = self.bytes[..4].try_into().unwrap();
        let mut found = Vec::new();
        if text.contains(&self.token) {
            found.push("the token".to_string());
        }
        for n in std::iter::once(self.bytes.len() as u64).chain(word(first).map(u64::from)) {
            if contains_number(text, n) {
                found.push(format!("the number {n}"));
            }
        }
        found
    }
}

/// Whether `n` appears in `text` as a whole number (not inside a longer one).
fn contains_number(text: &str, n: u64) -> bool {
    let needle = n.to_string();
    let bytes = text.as_bytes();
    text.match_indices(&needle).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j].is_ascii_digit()).unwrap_or(false);
        let after = bytes.get(i + needle.len()).is_some_and(|b| b.is_ascii_digit());
        !before && !after
    })
}

/// A job spec for a raw submit of `manifest`.
fn spec(name: &str, manifest: SceneManifest, settings: RenderSettings, tile: u32, priority: i32) -> JobSpec {
    JobSpec {
        project: None,
        name: name.into(),
        scene: manifest,
        samples_per_task: settings.spp,
        settings,
        frames: FrameRange { first: 0, last: 0, step: 1 },
        tile,
        priority,
        denoise: false,
        formats: vec![OutputFormat::Exr],
        output: OutputOptions::default(),
        preview_movie: false,
    }
}

/// The quality of every rendering job here (as `QUALITY`).
fn quality() -> RenderSettings {
    RenderSettings { width: 64, height: 48, spp: 4, max_depth: 4, ..Default::default() }
}

/// Uploads every regular file of `scene`'s folder (but `exclude`) as a bundle,
/// as a client does (links, devices and FIFOs are not files a bundle can
/// carry); returns its manifest.
fn upload_bundle(farm: &Farm, token: &str, scene: &Path, exclude: &Path) -> SceneManifest {
    let folder = scene.parent().unwrap();
    let mut files = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && path != exclude {
                files.push(path);
            }
        }
    }
    let http = Client::new();
    let mut manifest = SceneManifest { root: scene.file_name().unwrap().to_string_lossy().into(), files: Vec::new() };
    for path in files {
        let (sha256, size) = hash_file(&path).unwrap();
        let put = http
            .put(format!("{}{API}/blobs/{sha256}", farm.url()))
            .bearer_auth(token)
            .body(std::fs::read(&path).unwrap())
            .send()
            .unwrap();
        assert!(put.status().is_success(), "uploading {}: {}", path.display(), put.text().unwrap());
        let rel = path.strip_prefix(folder).unwrap().to_string_lossy().replace('\\', "/");
        manifest.files.push(BundleFile { path: rel, sha256, size });
    }
    manifest
}

/// POST /jobs: the status and the JSON body.
fn post_job(farm: &Farm, token: &str, spec: &JobSpec) -> (u16, Value) {
    let r = Client::new().post(format!("{}{API}/jobs", farm.url())).bearer_auth(token).json(spec).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

fn status_text(farm: &Farm, job: i64) -> String {
    let r = Client::new()
        .get(format!("{}{API}/jobs/{job}?tasks=true", farm.url()))
        .bearer_auth(&farm.admin)
        .send()
        .unwrap();
    r.text().unwrap()
}

/// `tessera render` of the Cornell box at `quality()` on the CPU backend.
fn local_render(dir: &Path) -> tessera::render::film::FrameImage {
    let path = dir.join("local.exr");
    let mut cmd = tessera();
    cmd.arg("render").arg(cornell()).args(QUALITY).args(["--backend", "cpu", "-o"]).arg(&path);
    let out = run(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    read_exr(&path).unwrap()
}

fn assert_alive(farm: &mut Farm) {
    for (i, w) in farm.workers.iter_mut().enumerate() {
        assert!(w.child.try_wait().unwrap().is_none(), "worker {i} died\n{}", farm_logs_all(&farm.dir));
    }
}

/// Every log of the farm in full.
fn farm_logs_all(dir: &tempfile::TempDir) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            text += &std::fs::read_to_string(&path).unwrap_or_default();
        }
    }
    text
}

/// The good job: the Cornell box, submitted with the CLI at the lowest priority.
fn submit_good(farm: &Farm) -> i64 {
    let mut cmd = farm.client(&farm.admin);
    cmd.arg("submit").arg(cornell()).args(QUALITY).args(["--tile", "16", "--format", "exr", "--priority", "-5"]);
    let out = run(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "submit failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

fn assert_good_job_matches_local_render(farm: &Farm, job: i64) {
    let done = farm.wait_status(job, Duration::from_secs(180), "the good job", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    let image = read_exr(&farm.download(job).join("frame_0001.exr")).unwrap();
    let local = local_render(farm.dir.path());
    assert!(image.color.iter().any(|c| c[0] > 0.0), "the good frame is black");
    assert!(bits(&image) == bits(&local), "the good job's frame differs from `tessera render`");
}

/// Where a bundle's `../secret.bin` points on the coordinator and on worker `n`.
fn plant_beside_bundles(secret: &Secret, farm: &Farm, workers: usize) {
    secret.plant(&farm.data().join("checks/secret.bin"));
    for n in 0..workers {
        secret.plant(&farm.dir.path().join(format!("cache{n}/scenes/secret.bin")));
    }
}

#[test]
fn hostile_scenes_are_refused_or_fail_while_the_workers_live_and_a_good_job_renders() {
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms", "--scene-check-memory-limit", "256MiB"]);
    let secret = Secret::new();
    let secret_path = farm.dir.path().join("secret.bin");
    secret.plant(&secret_path);
    plant_beside_bundles(&secret, &farm, 2);
    farm.add_worker(&["--memory-limit", "256MiB"]);
    farm.add_worker(&["--memory-limit", "256MiB"]);
    farm.wait_workers(2);

    let cases = hostile_corpus(&farm.dir.path().join("corpus"), &secret_path);
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut bodies = Vec::new();
    let mut accepted: Vec<(&HostileCase, i64)> = Vec::new();
    for case in &cases {
        let manifest = upload_bundle(&farm, &farm.admin, &case.path, &secret_path);
        let mut settings = quality();
        settings.environment = case.env.clone().map(EnvironmentSpec::Map);
        let (status, body) = post_job(&farm, &farm.admin, &spec(&case.name, manifest, settings, 64, 10));
        eprintln!("{}: {status} {body}", case.name);
        bodies.push(body.to_string());
        match status {
            422 => {
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    ["invalid_scene", "invalid_job"].contains(&body["error"]["code"].as_str().unwrap_or_default()),
                    "{}: {body}",
                    case.name
                );
                assert!(
                    message.contains(&case.field),
                    "{}: the refusal should name {}: {message}",
                    case.name,
                    case.field
                );
            }
            201 => accepted.push((case, body["job_id"].as_i64().unwrap())),
            other => panic!("{}: answered {other}: {body}", case.name),
        }
    }
    let good = submit_good(&farm);
    for (case, job) in &accepted {
        let s = farm.wait_status(*job, Duration::from_secs(120), "the hostile job to end", |s| s.state.is_finished());
        assert_eq!(s.state, JobState::Failed, "{}: {s:?}", case.name);
        let message = &s.errors.first().unwrap_or_else(|| panic!("{}: no error recorded", case.name)).message;
        eprintln!("{}: failed: {message}", case.name);
        assert!(message.contains(&case.field), "{}: the error should name {}: {message}", case.name, case.field);
        bodies.push(status_text(&farm, *job));
    }
    assert_good_job_matches_local_render(&farm, good);
    assert_alive(&mut farm);
    for body in &bodies {
        let leaks = secret.leaks(body);
        assert!(leaks.is_empty(), "a reply gives away {leaks:?}: {body}");
    }
}

/// `tessera`'s render process of worker `pid`, once it runs.
fn render_process_of(pid: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let entry = entry.ok()?;
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid …; comm may hold spaces, so split after its ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(pid) && String::from_utf8_lossy(&cmdline).contains("render-process") {
            return Some(child);
        }
    }
    None
}

#[test]
fn a_scene_reaching_outside_its_bundle_on_a_worker_gives_nothing_away() {
    // The coordinator's check is skipped, so the workers face the scene themselves.
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms", "--debug-skip-scene-check"]);
    let secret = Secret::new();
    let secret_path = farm.dir.path().join("secret.bin");
    secret.plant(&secret_path);
    plant_beside_bundles(&secret, &farm, 2);
    farm.add_worker(&[]);
    farm.add_worker(&[]);
    farm.wait_workers(2);
    // The cases that reach for a file outside their folder.
    let escapes = ["dotdot-escape", "absolute-path", "symlink-out", "file-uri", "image-dotdot-escape"];
    let cases: Vec<HostileCase> = hostile_corpus(&farm.dir.path().join("corpus"), &secret_path)
        .into_iter()
        .filter(|c| escapes.contains(&c.name.as_str()))
        .collect();
    assert_eq!(cases.len(), escapes.len());
    let mut texts = Vec::new();
    let mut jobs = Vec::new();
    for case in &cases {
        let manifest = upload_bundle(&farm, &farm.admin, &case.path, &secret_path);
        let (status, body) = post_job(&farm, &farm.admin, &spec(&case.name, manifest, quality(), 64, 10));
        assert_eq!(status, 201, "{}: {body}", case.name);
        jobs.push((case, body["job_id"].as_i64().unwrap()));
        texts.push(body.to_string());
    }
    let good = submit_good(&farm);
    for (case, job) in &jobs {
        let s = farm.wait_status(*job, Duration::from_secs(120), "the job to fail", |s| s.state.is_finished());
        assert_eq!(s.state, JobState::Failed, "{}: {s:?}", case.name);
        for e in &s.errors {
            assert!(e.message.contains(&case.field), "{}: {}", case.name, e.message);
            assert!(!e.message.contains(&farm.dir.path().join("cache0").display().to_string()), "{}", e.message);
        }
        texts.push(status_text(&farm, *job));
        texts.push(s.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("\n"));
    }
    assert_good_job_matches_local_render(&farm, good);
    assert_alive(&mut farm);
    let list = Client::new().get(format!("{}{API}/jobs", farm.url())).bearer_auth(&farm.admin).send().unwrap();
    texts.push(list.text().unwrap());
    texts.push(farm_logs_all(&farm.dir));
    let outputs = farm.dir.path().join(format!("out-{good}"));
    for entry in std::fs::read_dir(&outputs).unwrap() {
        texts.push(String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()).into_owned());
    }
    for text in &texts {
        let leaks = secret.leaks(text);
        assert!(leaks.is_empty(), "gives away {leaks:?}: {}", &text[..text.len().min(2000)]);
    }
}

#[test]
fn a_render_process_that_dies_or_overruns_fails_its_task_and_the_worker_renders_the_next_job() {
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms", "--max-attempts", "1"]);
    let slow = RenderSettings { width: 64, height: 48, spp: 1 << 15, max_depth: 4, ..Default::default() };
    let manifest = upload_bundle(&farm, &farm.admin, &cornell(), Path::new(""));
    let submit_slow = |farm: &Farm, name: &str| {
        let (status, body) = post_job(farm, &farm.admin, &spec(name, manifest.clone(), slow.clone(), 64, 10));
        assert_eq!(status, 201, "{body}");
        body["job_id"].as_i64().unwrap()
    };
    let failed_with = |farm: &Farm, job: i64, what: &str| -> JobStatus {
        let s = farm.wait_status(job, Duration::from_secs(120), what, |s| s.state.is_finished());
        assert_eq!(s.state, JobState::Failed, "{s:?}\n{}", farm.logs());
        s
    };

    // A render process killed by a signal (SIGABRT, as an allocation failure ends it).
    farm.add_worker(&[]);
    let killed = submit_slow(&farm, "killed");
    let pid = farm.workers[0].child.id();
    let child = wait_until(Duration::from_secs(60), "the render process", || farm.logs(), || render_process_of(pid));
    let sent = std::process::Command::new("kill").args(["-ABRT", &child.to_string()]).status().unwrap();
    assert!(sent.success());
    let s = failed_with(&farm, killed, "the killed job to fail");
    assert!(s.errors[0].message.contains("render process died: signal 6 (SIGABRT)"), "{:?}", s.errors);
    let good = submit_good(&farm);
    assert_good_job_matches_local_render(&farm, good);
    assert_alive(&mut farm);
    farm.workers[0].kill9();

    // A render process stopped at the task time limit.
    farm.add_worker(&["--task-time-limit", "1500ms"]);
    let start = Instant::now();
    let overrun = submit_slow(&farm, "overrun");
    let s = failed_with(&farm, overrun, "the overrunning job to fail");
    assert!(s.errors[0].message.contains("task time limit (1.5 s)"), "{:?}", s.errors);
    assert!(start.elapsed() < Duration::from_secs(60), "the time limit did not stop the render");
    let good = submit_good(&farm);
    assert_good_job_matches_local_render(&farm, good);
    farm.workers.remove(0);
    assert_alive(&mut farm);
    farm.workers[0].kill9();

    // A worker whose memory budget is too small for a scene the coordinator accepted.
    farm.add_worker(&["--memory-limit", "256KiB"]);
    let (status, body) = post_job(&farm, &farm.admin, &spec("too big here", manifest.clone(), quality(), 64, 10));
    assert_eq!(status, 201, "{body}");
    let s = failed_with(&farm, body["job_id"].as_i64().unwrap(), "the job over the worker's budget to fail");
    assert!(s.errors[0].message.contains("over the memory budget of 256.0 KiB"), "{:?}", s.errors);
    let small = farm.dir.path().join("triangle");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("scene.gltf"), serde_json::to_vec(&triangle()).unwrap()).unwrap();
    let fits = upload_bundle(&farm, &farm.admin, &small.join("scene.gltf"), Path::new(""));
    let (status, body) = post_job(&farm, &farm.admin, &spec("fits", fits, quality(), 64, 10));
    assert_eq!(status, 201, "{body}");
    let job = body["job_id"].as_i64().unwrap();
    let done = farm.wait_status(job, Duration::from_secs(120), "the small job", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{done:?}\n{}", farm.logs());
    farm.workers.remove(0);
    assert_alive(&mut farm);
}

/// One triangle, small enough to load within a few hundred KiB.
fn triangle() -> Value {
    let positions: Vec<u8> = [0f32, 0., 0., 1., 0., 0., 0., 1., 0.].iter().flat_map(|v| v.to_le_bytes()).collect();
    let data = base64::engine::general_purpose::STANDARD.encode(&positions);
    json!({
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "buffers": [{"uri": format!("data:application/octet-stream;base64,{data}"), "byteLength": 36}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}]
    })
}

/// Latencies of one kind of request, in seconds.
#[derive(Default)]
struct Timings {
    max: f64,
    count: usize,
}

impl Timings {
    fn add(&mut self, seconds: f64) {
        self.max = self.max.max(seconds);
        self.count += 1;
    }
}

#[test]
fn a_two_million_task_submit_and_cancel_hold_no_request_up() {
    let farm = Farm::start(&["--lease", "60s", "--heartbeat", "10s"]);
    let http = Client::new();
    let url = farm.url();
    let call = |method: M, path: &str, token: &str| http.request(method, format!("{url}{path}")).bearer_auth(token);
    let manifest = upload_bundle(&farm, &farm.admin, &cornell(), Path::new(""));
    let small = RenderSettings { width: 16, height: 16, spp: 1, max_depth: 2, ..Default::default() };
    let (status, body) = post_job(&farm, &farm.admin, &spec("small", manifest.clone(), small, 16, 100));
    assert_eq!(status, 201, "{body}");
    let small_job = body["job_id"].as_i64().unwrap();
    let ((holder, holder_token), (asker, asker_token)) = (farm.register_fake("holder"), farm.register_fake("asker"));
    let lease: Lease = call(M::POST, &format!("{API}/workers/{holder}/lease"), &holder_token)
        .json(&json!({"wait_ms": 5000}))
        .send()
        .unwrap()
        .json()
        .unwrap();

    // Too big: refused with the limit and the figure.
    let big = RenderSettings { width: 2000, height: 1000, spp: 1, max_depth: 2, ..Default::default() };
    let (status, body) = post_job(
        &farm,
        &farm.admin,
        &spec("too big", manifest.clone(), RenderSettings { width: 2001, ..big.clone() }, 1, 0),
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(status, 422, "{body}");
    assert!(
        message.contains("2001000 tasks") && message.contains("--max-tasks") && message.contains("2000000"),
        "{message}"
    );

    // A client timing lease, heartbeat and status requests while the big job comes and goes.
    let stop = Arc::new(AtomicBool::new(false));
    let timings = Arc::new(Mutex::new([Timings::default(), Timings::default(), Timings::default()]));
    let prober = {
        let (stop, timings, url, admin) = (stop.clone(), timings.clone(), url.clone(), farm.admin.clone());
        std::thread::spawn(move || {
            let http = Client::new();
            let hb = format!("{url}{API}/workers/{holder}/leases/{}/heartbeat", lease.lease_id);
            let status = format!("{url}{API}/jobs/{small_job}");
            let ask = format!("{url}{API}/workers/{asker}/lease");
            while !stop.load(Ordering::Relaxed) {
                let timed = |r: reqwest::blocking::RequestBuilder| {
                    let start = Instant::now();
                    let response = r.send().unwrap();
                    assert!(response.status().is_success(), "{}", response.text().unwrap());
                    start.elapsed().as_secs_f64()
                };
                let lease = timed(http.post(&ask).bearer_auth(&asker_token).json(&json!({"wait_ms": 0})));
                let heartbeat = timed(http.post(&hb).bearer_auth(&holder_token));
                let status = timed(http.get(&status).bearer_auth(&admin));
                let mut t = timings.lock().unwrap();
                t[0].add(lease);
                t[1].add(heartbeat);
                t[2].add(status);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let (status, body) = post_job(&farm, &farm.admin, &spec("two million", manifest, big, 1, 0));
    let submit_s = start.elapsed().as_secs_f64();
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tasks"], 2_000_000);
    let job = body["job_id"].as_i64().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let r = call(M::POST, &format!("{API}/jobs/{job}/cancel"), &farm.admin).send().unwrap();
    let cancel_s = start.elapsed().as_secs_f64();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    prober.join().unwrap();

    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.total, s.tasks.cancelled), (JobState::Cancelled, 2_000_000, 2_000_000));
    let t = timings.lock().unwrap();
    eprintln!(
        "2,000,000-task submit {submit_s:.3} s, cancel {cancel_s:.3} s; slowest lease {:.3} s, heartbeat {:.3} s, \
         status {:.3} s over {} rounds",
        t[0].max, t[1].max, t[2].max, t[0].count
    );
    assert!(t[0].count >= 3, "the prober hardly ran");
    for (what, timing) in ["lease", "heartbeat", "status"].iter().zip(t.iter()) {
        assert!(timing.max < 1.0, "a {what} request took {:.3} s during the big submit or cancel", timing.max);
    }
}

#[test]
fn a_render_process_keeps_its_scene_for_consecutive_tasks() {
    use std::io::Write;
    use tessera::farm::child::{read_frame, MAX_MESSAGE};
    use tessera::farm::render_process::{Request, Setup};
    use tessera::render::task::{RenderTask, SampleRange, Tile};

    let start = Instant::now();
    let mut child = tessera()
        .arg("render-process")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut input, mut output) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let scenes = cornell().parent().unwrap().to_path_buf();
    let setup = Setup {
        dir: scenes,
        root: "cornell-box.gltf".into(),
        environment: None,
        memory_limit: None,
        backend: tessera::backend::BackendKind::Cpu,
        device: None,
        threads: Some(1),
    };
    let settings = RenderSettings { width: 64, height: 48, spp: 1, max_depth: 2, ..Default::default() };
    let send = |input: &mut std::process::ChildStdin, line: String| {
        writeln!(input, "{line}").and_then(|()| input.flush()).unwrap()
    };
    send(&mut input, serde_json::to_string(&setup).unwrap());
    let mut task = |x: u32| {
        let tile = Tile { x, y: 0, width: 1, height: 1 };
        let request = Request {
            settings: settings.clone(),
            task: RenderTask { frame: 0, tile, samples: SampleRange { start: 0, end: 1 }, seed: 0, max_depth: 2 },
        };
        let start = Instant::now();
        send(&mut input, serde_json::to_string(&request).unwrap());
        let (tag, bytes) = read_frame(&mut output, MAX_MESSAGE).unwrap().expect("an answer");
        assert_eq!(tag, b'R', "{}", String::from_utf8_lossy(&bytes));
        let result = tessera::farm::protocol::decode_result(&bytes).unwrap();
        assert_eq!(result.tile, tile);
        start.elapsed().as_secs_f64()
    };
    let first = task(0);
    let startup = start.elapsed().as_secs_f64();
    let n = 200;
    let rest: f64 = (1..=n).map(|i| task(i % 64)).sum::<f64>() / n as f64;
    eprintln!(
        "render process: {:.1} ms to start, load, prepare and render a first 1-pixel task, then {:.2} ms per task",
        startup * 1e3,
        rest * 1e3
    );
    assert!(rest * 4.0 < first, "consecutive tasks should not load the scene again ({rest} s vs {first} s)");
    drop(input);
    assert!(child.wait().unwrap().success(), "the render process ends when its input closes");
}

#[test]
fn submit_shows_why_the_coordinator_refused_a_scene() {
    // The scene loads on the artist's machine but not within the coordinator's budget.
    let farm = Farm::start(&["--scene-check-memory-limit", "64KiB"]);
    let mut cmd = farm.client(&farm.admin);
    // A film small enough for the budget, so the scene is what goes over it.
    cmd.arg("submit").arg(cornell()).args(["--width", "8", "--height", "8", "--spp", "1", "--tile", "8"]);
    let out = run(cmd, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the submit should fail: {stderr}");
    for part in ["422 invalid_scene", "cornell-box.gltf", "over the memory budget of 64.0 KiB"] {
        assert!(stderr.contains(part), "the error should say {part:?}: {stderr}");
    }
    assert!(!stderr.contains(&farm.data().display().to_string()), "a coordinator path in {stderr}");
    let jobs: Value =
        Client::new().get(format!("{}{API}/jobs", farm.url())).bearer_auth(&farm.admin).send().unwrap().json().unwrap();
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(0), "a refused scene makes no job: {jobs}");
}
