//! The render farm end to end, on loopback: a `tessera coordinator` process,
//! `tessera worker` processes on the CPU backend, and the client commands.
//! Lease and heartbeat times are short so failures are noticed in seconds.

mod farm_support;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use farm_support::*;
use reqwest::blocking::Client;
use serde_json::Value;
use tessera::farm::protocol::{JobState, Lease, API};
use tessera::output::read_exr;
use tessera::render::film::FrameImage;

/// `tessera render` of frames 0..4 on the CPU backend, rendered once per test run.
fn reference(frame: u32) -> &'static FrameImage {
    static REFS: OnceLock<(tempfile::TempDir, Vec<FrameImage>)> = OnceLock::new();
    let (_, images) = REFS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let images = (0..4)
            .map(|f| {
                let path = dir.path().join(format!("ref{f}.exr"));
                let mut cmd = tessera();
                cmd.arg("render").arg(cornell()).args(QUALITY).args(["--backend", "cpu", "--frame", &f.to_string()]);
                cmd.arg("-o").arg(&path);
                let out = run(cmd, Duration::from_secs(120));
                assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
                read_exr(&path).unwrap()
            })
            .collect();
        (dir, images)
    });
    &images[frame as usize]
}

fn assert_frames_identical(dir: &Path, frames: std::ops::RangeInclusive<u32>) {
    for frame in frames {
        let path = dir.join(format!("frame_{frame:04}.exr"));
        let farm = read_exr(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let local = reference(frame);
        assert!(farm.color.iter().any(|c| c[0] > 0.0), "frame {frame} is black");
        assert!(bits(&farm) == bits(local), "frame {frame}: the farm's image differs from `tessera render`");
    }
}

#[test]
fn three_workers_render_a_tiled_job_bit_identical_to_a_local_render() {
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms"]);
    for _ in 0..3 {
        farm.add_worker(&[]);
    }
    farm.wait_workers(3);
    let job = farm.submit(&farm.admin, "0-3");

    let out_dir = farm.dir.path().join("watched");
    let mut watch = farm.client(&farm.admin);
    watch.args(["watch", &job.to_string(), "--download"]).arg(&out_dir);
    let out = run(watch, Duration::from_secs(180));
    assert!(out.status.success(), "watch failed: {}\n{}", String::from_utf8_lossy(&out.stderr), farm.logs());

    let status = farm.status(job);
    assert_eq!(status.state, JobState::Done);
    assert_eq!((status.tasks.total, status.tasks.done), (48, 48), "4 frames of 4x3 tiles");
    let mut cmd = farm.client(&farm.admin);
    cmd.args(["status", &job.to_string()]);
    let text = String::from_utf8(run(cmd, Duration::from_secs(30)).stdout).unwrap();
    assert!(text.contains(": done") && text.contains("48/48 done") && text.contains("frame_0003.exr"), "{text}");
    let tasks = status.task_list.as_ref().unwrap();
    assert!(tasks.iter().all(|t| t.attempts == 1), "no task should need a second attempt");
    let workers: BTreeSet<i64> = tasks.iter().filter_map(|t| t.worker).collect();
    assert!(workers.len() >= 2, "the tasks should be spread over the workers, got {workers:?}");
    assert_frames_identical(&out_dir, 0..=3);
}

#[test]
fn a_worker_killed_mid_task_loses_only_that_lease() {
    let mut farm = Farm::start(&["--lease", "2s", "--heartbeat", "300ms"]);
    farm.add_worker(&["--debug-task-delay", "120s"]);
    farm.wait_workers(1);
    let job = farm.submit(&farm.admin, "0-1");
    let held =
        farm.wait_status(job, Duration::from_secs(60), "the slow worker to lease a task", |s| s.tasks.leased == 1);
    let victim = held.task_list.unwrap().into_iter().find(|t| t.state == "leased").unwrap();
    // It heartbeats while it holds the task, so the lease outlives its 2 s.
    std::thread::sleep(Duration::from_millis(2500));
    let still = farm.status(job).task_list.unwrap().into_iter().find(|t| t.id == victim.id).unwrap();
    assert_eq!((still.state.as_str(), still.attempts), ("leased", 1), "heartbeats should keep the lease");

    farm.workers[0].kill9();
    farm.add_worker(&[]);
    let done = farm.wait_status(job, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    let tasks = done.task_list.unwrap();
    let requeued = tasks.iter().find(|t| t.id == victim.id).unwrap();
    assert_eq!((requeued.attempts, requeued.state.as_str()), (2, "done"));
    assert!(tasks.iter().filter(|t| t.id != victim.id).all(|t| t.attempts == 1));
    assert!(done.errors.iter().any(|e| e.task_id == victim.id && e.message.contains("expired")), "{:?}", done.errors);
    assert_frames_identical(&farm.download(job), 0..=1);
}

#[test]
fn a_coordinator_killed_mid_job_resumes_without_rendering_done_tiles_again() {
    let mut farm = Farm::start(&["--lease", "5s", "--heartbeat", "300ms"]);
    farm.add_worker(&["--debug-task-delay", "100ms"]);
    farm.add_worker(&["--debug-task-delay", "100ms"]);
    farm.wait_workers(2);
    let job = farm.submit(&farm.admin, "0-3");
    let before = farm.wait_status(job, Duration::from_secs(120), "a quarter of the tiles", |s| s.tasks.done >= 12);
    farm.kill_coordinator();
    assert!(before.tasks.done < 48, "the job finished before the coordinator could be killed");
    let done_before: HashMap<i64, u32> =
        before.task_list.unwrap().iter().filter(|t| t.state == "done").map(|t| (t.id, t.attempts)).collect();
    std::thread::sleep(Duration::from_millis(500));
    farm.start_coordinator();

    let after = farm.wait_status(job, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
    assert_eq!(after.state, JobState::Done, "{}", farm.logs());
    let tasks = after.task_list.unwrap();
    for (id, attempts) in &done_before {
        let t = tasks.iter().find(|t| t.id == *id).unwrap();
        assert_eq!((t.state.as_str(), t.attempts), ("done", *attempts), "task {id} was done before the kill");
    }
    assert!(done_before.values().all(|&a| a == 1));
    assert_frames_identical(&farm.download(job), 0..=3);
}

#[test]
fn bad_requests_are_refused_with_json_errors_and_lose_nothing() {
    let farm = Farm::start(&["--lease", "3s", "--heartbeat", "200ms"]);
    let (alice, bob) = (farm.user("alice", &[("film", "artist")]), farm.user("bob", &[("ads", "artist")]));
    let raw = Raw { http: Client::new(), url: farm.url() };
    use reqwest::Method as M;

    // Authentication: every endpoint but /health.
    assert_eq!(raw.call(M::GET, "/health", None).send().unwrap().status(), 200);
    refused(raw.call(M::GET, &format!("{API}/jobs"), None).send().unwrap(), 401, "unauthorized");
    refused(raw.call(M::GET, "/metrics", None).send().unwrap(), 401, "unauthorized");
    refused(raw.call(M::GET, &format!("{API}/jobs"), Some("tsu_not-a-token")).send().unwrap(), 401, "unauthorized");
    refused(raw.call(M::GET, &format!("{API}/jobs"), Some(&farm.worker_token)).send().unwrap(), 403, "forbidden");
    refused(
        raw.call(M::POST, &format!("{API}/workers"), Some(&alice)).json(&serde_json::json!({})).send().unwrap(),
        403,
        "forbidden",
    );

    // Malformed and invalid JSON.
    let jobs = format!("{API}/jobs");
    let bad = raw.call(M::POST, &jobs, Some(&alice)).header("content-type", "application/json").body("{\"name\": ");
    refused(bad.send().unwrap(), 400, "malformed_json");
    refused(
        raw.call(M::POST, &jobs, Some(&alice)).json(&serde_json::json!({"name": "x"})).send().unwrap(),
        422,
        "invalid_json",
    );
    refused(raw.call(M::POST, &jobs, Some(&alice)).body("{}").send().unwrap(), 415, "unsupported_media_type");

    // A scene file whose content does not match its hash.
    let wrong = raw.call(M::PUT, &format!("{API}/blobs/{}", "0".repeat(64)), Some(&alice)).body("not these bytes");
    refused(wrong.send().unwrap(), 400, "bad_checksum");

    // Alice's job: one frame of two tiles.
    let mut cmd = farm.client(&alice);
    cmd.arg("submit").arg(cornell()).args(["--width", "32", "--height", "16", "--spp", "1", "--tile", "16"]);
    let out = run(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job: i64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();

    // Bob can neither see nor control it, and cannot tell it exists.
    let path = format!("{API}/jobs/{job}");
    let msg = refused(raw.call(M::GET, &path, Some(&bob)).send().unwrap(), 404, "unknown_job");
    assert_eq!(msg, format!("job {job} not found"));
    refused(raw.call(M::POST, &format!("{path}/cancel"), Some(&bob)).send().unwrap(), 404, "unknown_job");
    let bobs: Value = raw.call(M::GET, &jobs, Some(&bob)).send().unwrap().json().unwrap();
    assert_eq!(bobs["items"].as_array().map(Vec::len), Some(0), "{bobs}");
    let mine: Value = raw.call(M::GET, &path, Some(&alice)).send().unwrap().json().unwrap();
    assert_eq!(mine["state"], "active");

    // Request size limit: JSON bodies are capped (8 MiB).
    let huge = raw.call(M::POST, &jobs, Some(&alice)).header("content-type", "application/json");
    refused(huge.body(vec![b' '; 9 << 20]).send().unwrap(), 413, "too_large");

    // The control commands, through the CLI.
    let cli = |token: &str, action: &str| {
        let mut cmd = farm.client(token);
        cmd.args([action, &job.to_string()]);
        let out = run(cmd, Duration::from_secs(30));
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, stderr) = cli(&bob, "pause");
    assert!(!ok && stderr.contains("404") && stderr.contains("not found"), "{stderr}");
    let (ok, stderr) = cli(&alice, "pause");
    assert!(ok && stderr.contains("paused"), "{stderr}");
    let (ok, stderr) = cli(&alice, "resume");
    assert!(ok && stderr.contains("active"), "{stderr}");
    let (ok, stderr) = cli(&alice, "resume");
    assert!(!ok && stderr.contains("409"), "{stderr}");

    // Two fake workers.
    let ((w1, c1), (w2, c2)) = (farm.register_fake("slow"), farm.register_fake("fast"));
    let cred = |w: i64| if w == w1 { c1.clone() } else { c2.clone() };
    let lease = |w: i64| -> Lease {
        let r = raw.call(M::POST, &format!("{API}/workers/{w}/lease"), Some(&cred(w)));
        r.json(&serde_json::json!({"wait_ms": 5000})).send().unwrap().error_for_status().unwrap().json().unwrap()
    };
    let malformed = raw.call(M::POST, &format!("{API}/workers/{w1}/lease"), Some(&c1));
    refused(
        malformed.header("content-type", "application/json").body("{wait_ms").send().unwrap(),
        400,
        "malformed_json",
    );

    let l1 = lease(w1);
    // Worker 2 learns nothing of worker 1's lease: it is answered as one that does
    // not exist, and worker 2's credential does not work under worker 1's id.
    let theirs = |action: &str| format!("{API}/workers/{w2}/leases/{}/{action}", l1.lease_id);
    let unknown = format!("lease {} does not exist", l1.lease_id);
    let hb2 = raw.call(M::POST, &theirs("heartbeat"), Some(&c2)).send().unwrap();
    assert_eq!(refused(hb2, 404, "unknown_lease"), unknown);
    let up2 = raw.call(M::PUT, &theirs("result"), Some(&c2)).body(fake_result(&l1)).send().unwrap();
    assert_eq!(refused(up2, 404, "unknown_lease"), unknown);
    let fail2 = raw.call(M::POST, &theirs("fail"), Some(&c2)).json(&serde_json::json!({"error": "x"})).send().unwrap();
    assert_eq!(refused(fail2, 404, "unknown_lease"), unknown);
    let bogus = raw.call(M::POST, &format!("{API}/workers/{w2}/leases/999999/heartbeat"), Some(&c2)).send().unwrap();
    assert_eq!(refused(bogus, 404, "unknown_lease"), "lease 999999 does not exist");
    let as_w1 = format!("{API}/workers/{w1}/leases/{}/heartbeat", l1.lease_id);
    refused(raw.call(M::POST, &as_w1, Some(&c2)).send().unwrap(), 403, "forbidden");
    let result_path = |w: i64, l: &Lease| format!("{API}/workers/{w}/leases/{}/result", l.lease_id);
    let mut corrupt = fake_result(&l1);
    corrupt[60] ^= 1;
    let msg =
        refused(raw.call(M::PUT, &result_path(w1, &l1), Some(&c1)).body(corrupt).send().unwrap(), 400, "bad_checksum");
    assert!(msg.contains("corrupt"), "{msg}");
    let s = farm.status(job);
    let t1 = s.task_list.unwrap().into_iter().find(|t| t.id == l1.task_id).unwrap();
    assert_eq!((t1.state.as_str(), t1.attempts, t1.failures), ("leased", 1, 0), "a corrupt upload changes nothing");

    // w2 renders the other tile; w1 goes silent, its lease expires and w2 takes its task over.
    let other = lease(w2);
    assert_ne!(other.task_id, l1.task_id);
    let ok = raw.call(M::PUT, &result_path(w2, &other), Some(&c2)).body(fake_result(&other)).send().unwrap();
    assert_eq!(ok.status(), 200);
    let l2 = lease(w2);
    assert_eq!((l2.task_id, l2.attempt), (l1.task_id, 2), "the expired task is handed over");
    let msg = refused(
        raw.call(M::PUT, &result_path(w1, &l1), Some(&c1)).body(fake_result(&l1)).send().unwrap(),
        409,
        "lease_lost",
    );
    assert!(msg.contains("another worker"), "{msg}");
    let hb = format!("{API}/workers/{w1}/leases/{}/heartbeat", l1.lease_id);
    refused(raw.call(M::POST, &hb, Some(&c1)).send().unwrap(), 409, "lease_lost");
    let ok = raw.call(M::PUT, &result_path(w2, &l2), Some(&c2)).body(fake_result(&l2)).send().unwrap();
    assert_eq!(ok.status(), 200);
    let done = farm.wait_status(job, Duration::from_secs(30), "the frame to be assembled", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    let t1 = done.task_list.as_ref().unwrap().iter().find(|t| t.id == l1.task_id).unwrap().clone();
    assert_eq!((t1.attempts, t1.state.as_str()), (2, "done"));
    assert!(done.errors.iter().any(|e| e.task_id == l1.task_id && e.message.contains("expired")));

    // Outputs: downloadable by the owner only.
    let name = &done.frames[0].outputs[0];
    let output = format!("{path}/outputs/{name}");
    let exr = raw.call(M::GET, &output, Some(&alice)).send().unwrap();
    assert_eq!(exr.status(), 200);
    assert!(exr.bytes().unwrap().starts_with(b"v/1\x01"), "the first format is EXR");
    refused(raw.call(M::GET, &output, Some(&bob)).send().unwrap(), 404, "unknown_job");
    refused(
        raw.call(M::GET, &format!("{path}/outputs/..%2Ffarm.sqlite"), Some(&alice)).send().unwrap(),
        404,
        "unknown_output",
    );
    refused(raw.call(M::GET, "/api/v1/nothing", Some(&alice)).send().unwrap(), 404, "no_such_endpoint");

    // Farm-wide counts are for admins: they would tell one project about the others.
    refused(raw.call(M::GET, "/metrics", Some(&alice)).send().unwrap(), 403, "forbidden");
    let metrics = raw.call(M::GET, "/metrics", Some(&farm.admin)).send().unwrap().text().unwrap();
    assert!(metrics.contains("tessera_tasks{state=\"done\"} 2\n"), "{metrics}");
    assert!(metrics.contains("tessera_tiles_completed_total 2\n"), "{metrics}");
}

#[test]
fn denoising_runs_once_on_the_assembled_frame() {
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms"]);
    let mut cmd = farm.client(&farm.admin);
    cmd.arg("submit").arg(cornell()).args(QUALITY).args([
        "--frames",
        "0",
        "--tile",
        "16",
        "--format",
        "exr",
        "--denoise",
    ]);
    let out = run(cmd, Duration::from_secs(60));
    if !cfg!(feature = "oidn") {
        eprintln!("skipping the denoised render: this build has no `oidn` feature; checking the refusal instead");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("422") && stderr.contains("cannot denoise"), "{stderr}");
        return;
    }
    assert!(out.status.success(), "submit failed: {}", String::from_utf8_lossy(&out.stderr));
    let job: i64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    farm.add_worker(&[]);
    let done = farm.wait_status(job, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    let path = farm.download(job).join("frame_0000.exr");
    let denoised = read_exr(&path).unwrap();
    let noisy = tessera::output::read_noisy(&path).unwrap().expect("a denoised EXR keeps the noisy beauty");
    let local = reference(0);
    let noisy_bits: Vec<u32> = noisy.iter().flatten().map(|v| v.to_bits()).collect();
    let local_bits: Vec<u32> = local.color.iter().flat_map(|c| &c[..3]).map(|v| v.to_bits()).collect();
    assert_eq!(noisy_bits, local_bits, "the noisy layer is the assembled frame, bit for bit");
    assert_eq!(
        bits(&FrameImage { color: vec![], ..denoised.clone() }),
        bits(&FrameImage { color: vec![], ..local.clone() })
    );
    assert!(denoised.color.iter().flatten().all(|v| v.is_finite()));
    let changed = denoised.color.iter().zip(&local.color).filter(|(d, n)| d[..3] != n[..3]).count();
    assert!(changed > denoised.color.len() / 2, "denoising changed only {changed} pixels");
}

#[test]
fn a_gltf_with_external_buffers_and_textures_renders_as_locally_and_is_uploaded_once() {
    let scene = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/scenes/TextureTransformTest/glTF/TextureTransformTest.gltf");
    if !scene.is_file() {
        eprintln!("skipping: {} is not there (the shared scenes sit beside the repository)", scene.display());
        return;
    }
    let quality = ["--width", "48", "--height", "32", "--spp", "2", "--max-depth", "3", "--env", "1"];
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms"]);
    farm.add_worker(&[]);
    let submit = || {
        let mut cmd = farm.client(&farm.admin);
        cmd.arg("submit").arg(&scene).args(quality).args(["--tile", "16", "--format", "exr"]);
        let out = run(cmd, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "submit failed: {stderr}");
        (String::from_utf8(out.stdout).unwrap().trim().parse::<i64>().unwrap(), stderr)
    };
    let (job, first) = submit();
    assert!(first.contains("7 files, 7 uploaded"), "gltf + bin + 5 images: {first}");
    let (again, second) = submit();
    assert!(second.contains("0 uploaded (0 bytes), 7 already on the coordinator"), "{second}");

    let local = farm.dir.path().join("local.exr");
    let mut cmd = tessera();
    cmd.arg("render").arg(&scene).args(quality).args(["--backend", "cpu", "-o"]).arg(&local);
    let out = run(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    let local = read_exr(&local).unwrap();
    for id in [job, again] {
        let done = farm.wait_status(id, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
        assert_eq!(done.state, JobState::Done, "{}", farm.logs());
        let image = read_exr(&farm.download(id).join("frame_0001.exr")).unwrap();
        assert!(bits(&image) == bits(&local), "job {id}: the farm's image differs from `tessera render`");
    }
}

#[test]
fn sample_ranges_and_an_environment_map_travel_with_the_job() {
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms"]);
    // A small equirectangular map: the bundle must carry it to the workers.
    let sky = farm.dir.path().join("sky.exr");
    let (w, h) = (16u32, 8u32);
    let color = (0..w * h).map(|i| [(i % w) as f32 / 4.0, 0.5, (i / w) as f32 / 8.0, 1.0]).collect();
    let map = FrameImage { width: w, height: h, color, ..Default::default() };
    tessera::output::write_image(&sky, &map, None, &Default::default()).unwrap();
    let quality = ["--width", "32", "--height", "24", "--spp", "4", "--max-depth", "3", "--env"];

    farm.add_worker(&[]);
    let mut cmd = farm.client(&farm.admin);
    cmd.arg("submit").arg(cornell()).args(quality).arg(&sky).args(["--tile", "16", "--samples-per-task", "1"]);
    let out = run(cmd, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "submit failed: {stderr}");
    assert!(stderr.contains("2 files, 2 uploaded"), "scene + environment map: {stderr}");
    let job: i64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let done = farm.wait_status(job, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    assert_eq!(done.tasks.total, 2 * 2 * 4, "2x2 tiles x 4 one-sample ranges");
    let image = read_exr(&farm.download(job).join("frame_0001.exr")).unwrap();

    let local = farm.dir.path().join("local.exr");
    let mut cmd = tessera();
    cmd.arg("render").arg(cornell()).args(quality).arg(&sky).args(["--backend", "cpu", "-o"]).arg(&local);
    let out = run(cmd, Duration::from_secs(120));
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    let local = read_exr(&local).unwrap();
    // Sums of 4 one-sample tasks equal the 4-sample sum up to f32 rounding.
    assert_eq!(image.samples, local.samples);
    assert!(image.color.iter().any(|c| c[0] > 0.0));
    for (i, (a, b)) in image.color.iter().zip(&local.color).enumerate() {
        for c in 0..4 {
            assert!((a[c] - b[c]).abs() <= 1e-5 * b[c].abs().max(1.0), "pixel {i}: {a:?} vs {b:?}");
        }
    }
}
