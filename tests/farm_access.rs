//! Projects, roles, quotas, tokens and the audit log, over HTTP against a real coordinator.

mod farm_support;

use std::time::Duration;

use farm_support::*;
use reqwest::blocking::Client;
use reqwest::Method as M;
use serde_json::{json, Value};
use tessera::farm::bundle;
use tessera::farm::protocol::{FrameRange, JobSpec, OutputFormat, SceneManifest, API};
use tessera::output::OutputOptions;
use tessera::render::settings::RenderSettings;

fn spec(project: &str, scene: SceneManifest, tasks: u32) -> JobSpec {
    JobSpec {
        name: "access".into(),
        project: Some(project.into()),
        scene,
        // One tile of 16 px, `tasks` sample ranges of one sample.
        settings: RenderSettings { width: 16, height: 16, spp: tasks, max_depth: 2, ..Default::default() },
        samples_per_task: 1,
        frames: FrameRange { first: 1, last: 1, step: 1 },
        tile: 16,
        priority: 0,
        denoise: false,
        formats: vec![OutputFormat::Exr],
        output: OutputOptions::default(),
        preview_movie: false,
    }
}

/// "STATUS" for successes, "STATUS CODE" for refusals.
fn outcome(r: reqwest::blocking::Response) -> String {
    let status = r.status().as_u16();
    if status < 300 {
        return status.to_string();
    }
    let body: Value = r.json().unwrap_or(Value::Null);
    format!("{status} {}", body["error"]["code"].as_str().unwrap_or("?"))
}

struct Setup {
    farm: Farm,
    raw: Raw,
    manifest: SceneManifest,
    scene_bytes: Vec<(String, Vec<u8>)>,
}

impl Setup {
    fn new(extra: &[&str]) -> Setup {
        let farm = Farm::start(extra);
        let raw = Raw { http: Client::new(), url: farm.url() };
        let local = bundle::build(&cornell(), None).unwrap();
        let scene_bytes = local
            .manifest
            .files
            .iter()
            .map(|f| (f.sha256.clone(), std::fs::read(local.source_of(&f.sha256).unwrap()).unwrap()))
            .collect();
        Setup { farm, raw, manifest: local.manifest, scene_bytes }
    }

    fn upload(&self, token: &str, project: &str) -> String {
        let mut last = String::new();
        for (hash, bytes) in &self.scene_bytes {
            let put = self.raw.call(M::PUT, &format!("{API}/blobs/{hash}?project={project}"), Some(token));
            last = outcome(put.body(bytes.clone()).send().unwrap());
        }
        last
    }

    fn submit(&self, token: &str, project: &str, tasks: u32) -> (String, Option<i64>) {
        let r = self
            .raw
            .call(M::POST, &format!("{API}/jobs"), Some(token))
            .json(&spec(project, self.manifest.clone(), tasks))
            .send()
            .unwrap();
        if r.status().as_u16() == 201 {
            let body: Value = r.json().unwrap();
            return ("201".into(), body["job_id"].as_i64());
        }
        (outcome(r), None)
    }
}

const ROLES: [&str; 7] = ["viewer", "artist", "artist2", "wrangler", "admin", "worker", "enrolment"];

/// Expected outcome per endpoint, for each of [`ROLES`], on the caller's own
/// project ("film") and on another ("ads"). "artist" owns the film job,
/// "artist2" is another artist of film. `+`/`-`: the listing holds the job or not.
const MATRIX: &[(&str, [&str; 7], [&str; 7])] = &[
    (
        "job.status",
        ["200", "200", "200", "200", "200", "403 forbidden", "403 forbidden"],
        [
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "200",
            "403 forbidden",
            "403 forbidden",
        ],
    ),
    (
        "jobs.list",
        ["200 +", "200 +", "200 +", "200 +", "200 +", "403 forbidden", "403 forbidden"],
        ["200 -", "200 -", "200 -", "200 -", "200 +", "403 forbidden", "403 forbidden"],
    ),
    (
        "job.output",
        [
            "404 unknown_output",
            "404 unknown_output",
            "404 unknown_output",
            "404 unknown_output",
            "404 unknown_output",
            "403 forbidden",
            "403 forbidden",
        ],
        [
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_output",
            "403 forbidden",
            "403 forbidden",
        ],
    ),
    (
        "job.pause",
        ["403 forbidden", "200", "403 forbidden", "200", "200", "403 forbidden", "403 forbidden"],
        [
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "200",
            "403 forbidden",
            "403 forbidden",
        ],
    ),
    (
        "job.priority",
        ["403 forbidden", "403 forbidden", "403 forbidden", "200", "200", "403 forbidden", "403 forbidden"],
        [
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "404 unknown_job",
            "200",
            "403 forbidden",
            "403 forbidden",
        ],
    ),
    (
        "blobs.check",
        ["403 forbidden", "200", "200", "200", "200", "403 forbidden", "403 forbidden"],
        ["404 not_found", "404 not_found", "404 not_found", "404 not_found", "200", "403 forbidden", "403 forbidden"],
    ),
    (
        "blob.upload",
        ["403 forbidden", "201", "201", "201", "201", "403 forbidden", "403 forbidden"],
        ["404 not_found", "404 not_found", "404 not_found", "404 not_found", "201", "403 forbidden", "403 forbidden"],
    ),
    (
        "job.submit",
        ["403 forbidden", "201", "201", "201", "201", "403 forbidden", "403 forbidden"],
        ["404 not_found", "404 not_found", "404 not_found", "404 not_found", "201", "403 forbidden", "403 forbidden"],
    ),
    (
        "blob.download",
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden"],
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden"],
    ),
    (
        "workers.list",
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden", "403 forbidden"],
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden", "403 forbidden"],
    ),
    (
        "audit.read",
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden", "403 forbidden"],
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden", "403 forbidden"],
    ),
    (
        "metrics",
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden", "403 forbidden"],
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "200", "403 forbidden", "403 forbidden"],
    ),
    (
        "worker.register",
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "201"],
        ["403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "403 forbidden", "201"],
    ),
];

#[test]
fn every_endpoint_allows_exactly_what_each_role_may_do_in_its_own_project_and_nothing_in_others() {
    let s = Setup::new(&[]);
    let f = &s.farm;
    let tokens = [
        f.user("vera", &[("film", "viewer")]),
        f.user("art", &[("film", "artist")]),
        f.user("bea", &[("film", "artist")]),
        f.user("wren", &[("film", "wrangler")]),
        f.admin.clone(),
        f.register_fake("w").1,
        f.worker_token.clone(),
    ];
    let adam = f.user("adam", &[("ads", "artist")]);
    assert_eq!(s.upload(&tokens[1], "film"), "201");
    assert_eq!(s.upload(&adam, "ads"), "201");
    let film_job = s.submit(&tokens[1], "film", 1).1.expect("art submits to film");
    let ads_job = s.submit(&adam, "ads", 1).1.expect("adam submits to ads");
    let hash = s.manifest.files[0].sha256.clone();
    let caps = json!({"name": "n", "version": "t", "backend": {"name": "cpu", "device": "fake"}, "probes": [],
                      "memory_bytes": 0, "cpu_threads": 1, "bench_samples_per_second": 0.0});

    let mut mismatches = Vec::new();
    for (endpoint, own, other) in MATRIX {
        for (side, expected, project, job) in [("own", own, "film", film_job), ("other", other, "ads", ads_job)] {
            for (role, token) in ROLES.iter().zip(&tokens) {
                let call = |m: M, path: String| s.raw.call(m, &path, Some(token));
                let got = match *endpoint {
                    "job.status" => outcome(call(M::GET, format!("{API}/jobs/{job}")).send().unwrap()),
                    "jobs.list" => {
                        let r = call(M::GET, format!("{API}/jobs?project={project}&limit=1000")).send().unwrap();
                        match r.status().as_u16() {
                            200 => {
                                let page: Value = r.json().unwrap();
                                let has = page["items"].as_array().unwrap().iter().any(|j| j["id"] == job);
                                format!("200 {}", if has { "+" } else { "-" })
                            }
                            _ => outcome(r),
                        }
                    }
                    "job.output" => outcome(call(M::GET, format!("{API}/jobs/{job}/outputs/none.exr")).send().unwrap()),
                    "job.pause" => {
                        let got = outcome(call(M::POST, format!("{API}/jobs/{job}/pause")).send().unwrap());
                        if got == "200" {
                            let resume = s.raw.call(M::POST, &format!("{API}/jobs/{job}/resume"), Some(&f.admin));
                            assert_eq!(outcome(resume.send().unwrap()), "200");
                        }
                        got
                    }
                    "job.priority" => outcome(
                        call(M::POST, format!("{API}/jobs/{job}/priority"))
                            .json(&json!({"priority": 5}))
                            .send()
                            .unwrap(),
                    ),
                    "blobs.check" => outcome(
                        call(M::POST, format!("{API}/blobs/missing"))
                            .json(&json!({"hashes": [hash], "project": project}))
                            .send()
                            .unwrap(),
                    ),
                    "blob.upload" => {
                        let (h, bytes) = &s.scene_bytes[0];
                        outcome(
                            call(M::PUT, format!("{API}/blobs/{h}?project={project}"))
                                .body(bytes.clone())
                                .send()
                                .unwrap(),
                        )
                    }
                    "job.submit" => s.submit(token, project, 1).0,
                    "blob.download" => outcome(call(M::GET, format!("{API}/blobs/{hash}")).send().unwrap()),
                    "workers.list" => outcome(call(M::GET, format!("{API}/workers")).send().unwrap()),
                    "audit.read" => outcome(call(M::GET, format!("{API}/audit")).send().unwrap()),
                    "metrics" => outcome(call(M::GET, "/metrics".into()).send().unwrap()),
                    "worker.register" => outcome(call(M::POST, format!("{API}/workers")).json(&caps).send().unwrap()),
                    other => panic!("no call for {other}"),
                };
                let want = expected[ROLES.iter().position(|r| r == role).unwrap()];
                if got != want {
                    mismatches.push(format!("{endpoint} {side} project as {role}: expected {want}, got {got}"));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn another_projects_scene_files_cannot_be_probed_or_used_by_hash() {
    let s = Setup::new(&[]);
    let art = s.farm.user("art", &[("film", "artist")]);
    let adam = s.farm.user("adam", &[("ads", "artist")]);
    assert_eq!(s.upload(&art, "film"), "201");
    let hashes: Vec<&String> = s.scene_bytes.iter().map(|(h, _)| h).collect();
    // To ads, film's files are missing, exactly as files nobody uploaded.
    let missing: Value = s
        .raw
        .call(M::POST, &format!("{API}/blobs/missing"), Some(&adam))
        .json(&json!({"hashes": hashes, "project": "ads"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(missing["missing"].as_array().unwrap().len(), hashes.len(), "{missing}");
    // A job naming film's hashes without the bytes is refused …
    let (got, _) = s.submit(&adam, "ads", 1);
    assert_eq!(got, "422 missing_files");
    // … and claiming a hash takes the bytes themselves.
    let (hash, _) = &s.scene_bytes[0];
    let fake = s.raw.call(M::PUT, &format!("{API}/blobs/{hash}?project=ads"), Some(&adam)).body("guess");
    assert_eq!(outcome(fake.send().unwrap()), "400 bad_checksum");
    assert_eq!(s.upload(&adam, "ads"), "201");
    assert_eq!(s.submit(&adam, "ads", 1).0, "201");

    // Nothing of the data folder is readable by other local users.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let data = s.farm.data();
        let blob = data.join("blobs").join(&hash[..2]).join(hash);
        for (path, want) in [(data.clone(), 0o700), (data.join("blobs"), 0o700), (data.join("farm.sqlite"), 0o600)]
            .into_iter()
            .chain([(data.join("farm.sqlite-wal"), 0o600), (blob, 0o600), (data.join("tokens/admin.token"), 0o600)])
        {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, want, "{}: mode {mode:o}", path.display());
        }
    }
}

#[test]
fn quotas_and_priority_ceilings_bind_projects() {
    let s = Setup::new(&[]);
    let f = &s.farm;
    f.admin_cli(&["project", "create", "film", "--max-queued-tasks", "3", "--max-priority", "10"]);
    f.admin_cli(&["project", "create", "tiny", "--max-storage", "100"]);
    f.admin_cli(&["project", "create", "one", "--max-running-tasks", "1"]);
    let art = f.user("art", &[("film", "artist"), ("tiny", "artist"), ("one", "artist")]);

    // Running tasks: with one of its tasks running, a second worker gets nothing from "one".
    assert_eq!(s.upload(&art, "one"), "201");
    assert_eq!(s.submit(&art, "one", 2).0, "201");
    let lease = |(w, c): &(i64, String)| {
        let r = s.raw.call(M::POST, &format!("{API}/workers/{w}/lease"), Some(c)).json(&json!({"wait_ms": 0}));
        r.send().unwrap().status().as_u16()
    };
    let (w1, w2) = (f.register_fake("a"), f.register_fake("b"));
    assert_eq!(lease(&w1), 200);
    assert_eq!(lease(&w2), 204, "project one may run one task at a time");
    f.admin_cli(&["project", "set", "one", "--max-running-tasks", "none"]);
    assert_eq!(lease(&w2), 200, "lifting the limit applies at once");

    // Queued tasks: 2 fit, 2 more do not.
    assert_eq!(s.upload(&art, "film"), "201");
    assert_eq!(s.submit(&art, "film", 2).0, "201");
    let over = s.raw.call(M::POST, &format!("{API}/jobs"), Some(&art)).json(&spec("film", s.manifest.clone(), 2));
    let message = refused(over.send().unwrap(), 429, "quota_exceeded");
    assert!(message.contains("3 queued tasks") && message.contains("adds 2"), "{message}");

    // The priority ceiling.
    let mut high = spec("film", s.manifest.clone(), 1);
    high.priority = 11;
    let r = s.raw.call(M::POST, &format!("{API}/jobs"), Some(&art)).json(&high).send().unwrap();
    assert!(refused(r, 403, "forbidden").contains("ceiling of 10"));

    // Storage: the Cornell box is over 100 bytes.
    assert_eq!(s.upload(&art, "tiny"), "429 quota_exceeded");
}

#[test]
fn rate_limits_expiry_and_revocation_apply_to_the_next_request() {
    let s = Setup::new(&["--rate-limit", "2"]);
    let f = &s.farm;
    let art = f.user("art", &[("film", "artist")]);
    // 2 per second in bursts of 8.
    let statuses: Vec<u16> = (0..20)
        .map(|_| s.raw.call(M::GET, &format!("{API}/jobs"), Some(&art)).send().unwrap().status().as_u16())
        .collect();
    assert!(statuses.iter().filter(|s| **s == 200).count() <= 9, "{statuses:?}");
    assert!(statuses[..8].iter().all(|s| *s == 200) && statuses.contains(&429), "{statuses:?}");

    let brief = f.admin_cli(&["token", "create", "--user", "art", "--expires", "1s"]);
    assert_eq!(outcome(s.raw.call(M::GET, &format!("{API}/jobs"), Some(&brief)).send().unwrap()), "200");
    std::thread::sleep(Duration::from_millis(1100));
    let r = s.raw.call(M::GET, &format!("{API}/jobs"), Some(&brief)).send().unwrap();
    assert_eq!(refused(r, 401, "unauthorized"), "token expired");
    let token = f.admin_cli(&["token", "create", "--user", "art"]);
    let id = f.admin_cli(&["token", "list"]).lines().last().unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(outcome(s.raw.call(M::GET, &format!("{API}/jobs"), Some(&token)).send().unwrap()), "200");
    f.admin_cli(&["token", "revoke", &id]);
    let r = s.raw.call(M::GET, &format!("{API}/jobs"), Some(&token)).send().unwrap();
    assert_eq!(refused(r, 401, "unauthorized"), "invalid or revoked token");
}

#[test]
fn a_scripted_session_leaves_exactly_the_expected_audit_rows_and_no_token() {
    let s = Setup::new(&[]);
    let f = &s.farm;
    let art = f.user("art", &[("film", "artist")]);
    let wren = f.user("wren", &[("film", "wrangler")]);
    let vera = f.user("vera", &[("film", "viewer")]);
    let files = s.scene_bytes.len();

    // Through the CLI, as an artist would.
    let mut cmd = f.client(&art);
    cmd.arg("submit").arg(cornell()).args(["--project", "film", "--width", "16", "--height", "16", "--spp", "1"]);
    let out = run(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job: i64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    let control = |token: &str, action: &str| {
        outcome(s.raw.call(M::POST, &format!("{API}/jobs/{job}/{action}"), Some(token)).send().unwrap())
    };
    assert_eq!(control(&art, "pause"), "200");
    assert_eq!(control(&wren, "cancel"), "200");
    assert_eq!(control(&vera, "retry"), "403 forbidden");
    assert_eq!(
        outcome(s.raw.call(M::GET, &format!("{API}/jobs/{job}"), Some("tsu_wrong")).send().unwrap()),
        "401 unauthorized"
    );
    // Reads that succeed are not recorded.
    assert_eq!(outcome(s.raw.call(M::GET, &format!("{API}/jobs/{job}"), Some(&vera)).send().unwrap()), "200");

    let page: Value =
        s.raw.call(M::GET, &format!("{API}/audit?project=film"), Some(&f.admin)).send().unwrap().json().unwrap();
    let items = page["items"].as_array().unwrap();
    // What the operator did on the host comes first: the project, and three grants.
    let local: Vec<&str> =
        items.iter().filter(|e| e["source"] == "local").map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(local, ["project.create", "user.grant", "user.grant", "user.grant"]);
    let rows: Vec<String> = items
        .iter()
        .filter(|e| e["source"] != "local")
        .map(|e| {
            format!("{} {} {} {} {} {}", e["user"], e["role"], e["action"], e["target"], e["result"], e["status"])
                .replace('"', "")
        })
        .collect();
    let target = format!("job:{job}");
    let mut expected = vec!["art artist blobs.check null ok 200".to_string()];
    for (hash, _) in s.scene_bytes.iter().take(files) {
        expected.push(format!("art artist blob.upload blob:{hash} ok 201"));
    }
    expected.push(format!("art artist job.submit {target} ok 201"));
    expected.push(format!("art artist job.pause {target} ok 200"));
    expected.push(format!("wren wrangler job.cancel {target} ok 200"));
    expected.push(format!("vera viewer job.retry {target} refused 403"));
    expected.push(format!("- anonymous job.status {target} refused 401"));
    assert_eq!(rows, expected);
    let all: Value = s.raw.call(M::GET, &format!("{API}/audit"), Some(&f.admin)).send().unwrap().json().unwrap();
    let anonymous = all["items"].as_array().unwrap().iter().filter(|e| e["role"] == "anonymous").count();
    assert_eq!(anonymous, 1, "the wrong token is recorded: {all}");
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| ["127.0.0.1", "local"].contains(&e["source"].as_str().unwrap())),
        "{all}"
    );

    // The CLI reads the same table, filtered by user.
    let text = f.admin_cli(&["audit", "--user", "wren", "--since", "1h"]);
    assert_eq!(text.lines().count(), 2, "a header and wren's cancel: {text}");
    assert!(text.contains("job.cancel"), "{text}");

    // No token in the audit log or in any log.
    let dump = format!("{all}\n{}", f.logs());
    for token in [&art, &wren, &vera, &f.admin, &f.worker_token] {
        assert!(!dump.contains(token.as_str()), "a token leaked");
    }
}
