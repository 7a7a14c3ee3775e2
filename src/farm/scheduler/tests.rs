//! The state machine, driven directly against a database (no HTTP).

use std::sync::mpsc::{channel, Receiver};

use super::*;
use crate::farm::protocol::{BundleFile, FrameRange, OutputFormat, SceneManifest};
use crate::farm::queries;
use crate::output::OutputOptions;
use crate::render::settings::RenderSettings;
use crate::render::task::PixelSums;

const HASH: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

struct Farm {
    _dir: tempfile::TempDir,
    db: Connection,
    st: SchedState,
    assembled: Receiver<FrameKey>,
}

impl Farm {
    fn new(config: SchedConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::farm::store::open(&dir.path().join("farm.sqlite")).unwrap();
        db.execute("INSERT INTO blobs (hash, size, created_ms) VALUES (?1, 1, 0)", [HASH]).unwrap();
        db.execute("INSERT INTO project_blobs (project, hash, size, created_ms) VALUES ('default', ?1, 1, 0)", [HASH])
            .unwrap();
        let (tx, assembled) = channel();
        let st = SchedState::new(config, Arc::new(Notify::new()), tx, Arc::new(Metrics::default()));
        Self { _dir: dir, db, st, assembled }
    }

    /// Runs a change in a transaction, then its after-commit actions.
    fn run<R>(&mut self, f: impl FnOnce(&Connection, &mut SchedState, &mut AfterCommit) -> R) -> R {
        let tx = self.db.unchecked_transaction().unwrap();
        let mut after = AfterCommit::default();
        let r = f(&tx, &mut self.st, &mut after);
        tx.commit().unwrap();
        after.run();
        r
    }

    fn submit(&mut self, priority: i32, width: u32, frames: u32) -> i64 {
        self.submit_spec(priority, width, frames, "s.gltf")
    }

    fn submit_scene(&mut self, priority: i32, root: &str) -> i64 {
        self.submit_spec(priority, 4, 1, root)
    }

    fn submit_spec(&mut self, priority: i32, width: u32, frames: u32, root: &str) -> i64 {
        self.submit_job(priority, width, frames, root, false)
    }

    fn submit_job(&mut self, priority: i32, width: u32, frames: u32, root: &str, preview_movie: bool) -> i64 {
        let spec = JobSpec {
            name: format!("p{priority}"),
            project: None,
            scene: SceneManifest {
                root: root.into(),
                files: vec![BundleFile { path: root.into(), sha256: HASH.into(), size: 1 }],
            },
            settings: RenderSettings { width, height: 4, spp: 2, max_depth: 2, ..Default::default() },
            frames: FrameRange { first: 0, last: frames - 1, step: 1 },
            tile: 4,
            samples_per_task: 2,
            priority,
            denoise: false,
            formats: vec![OutputFormat::Exr, OutputFormat::Png],
            output: OutputOptions::default(),
            preview_movie,
        };
        self.run(|db, st, after| submit(db, st, after, &alice(), "default", spec)).unwrap().job_id
    }

    fn worker(&mut self) -> i64 {
        let caps = Capabilities {
            name: "w".into(),
            version: "t".into(),
            backend: crate::backend::BackendInfo { name: "cpu".into(), device: "test".into() },
            probes: Vec::new(),
            memory_bytes: 0,
            cpu_threads: 1,
            bench_samples_per_second: 0.0,
        };
        self.run(|db, _, _| register(db, &caps)).unwrap().0
    }

    fn lease(&mut self, worker: i64) -> Option<Lease> {
        self.run(|db, st, _| lease(db, st, worker, now_ms())).unwrap()
    }

    fn complete(&mut self, worker: i64, l: &Lease) -> Result<Result<(), ApiError>, ApiError> {
        let t = l.task;
        let result = TileResult {
            frame: t.frame,
            tile: t.tile,
            samples: t.samples,
            pixels: vec![PixelSums { count: t.samples.count(), ..Default::default() }; t.tile.pixel_count()],
            rays: 1,
        };
        let bytes = crate::farm::protocol::encode_result(&result);
        let upload = Upload { worker_id: worker, lease_id: l.lease_id, result, bytes, invalid: None, energy_j: None };
        self.run(|db, st, after| complete(db, st, after, upload))
    }

    fn fail(&mut self, worker: i64, l: &Lease) {
        self.run(|db, st, after| fail(db, st, after, worker, l.lease_id, "boom", None)).unwrap()
    }

    fn status(&self, job: i64) -> crate::farm::protocol::JobStatus {
        let admin = Principal::user("root", true, &[]);
        let tasks = Some(crate::farm::protocol::PageQuery { limit: Some(1000), after: None });
        queries::job_status(&self.db, &admin, job, tasks, self.st.config.blocklist_after).unwrap()
    }
}

fn alice() -> Principal {
    Principal::user("alice", false, &[("default", crate::farm::access::ProjectRole::Artist)])
}

#[test]
fn higher_priority_first_then_submission_order() {
    let mut farm = Farm::new(SchedConfig::default());
    let a = farm.submit(0, 8, 1); // 2 tiles
    let b = farm.submit(5, 8, 1);
    let c = farm.submit(0, 4, 1); // 1 tile
    let w = farm.worker();
    let order: Vec<(i64, u32)> = std::iter::from_fn(|| farm.lease(w)).map(|l| (l.job_id, l.task.tile.x)).collect();
    assert_eq!(order, vec![(b, 0), (b, 4), (a, 0), (a, 4), (c, 0)]);
    let s = farm.status(a);
    assert_eq!((s.tasks.leased, s.tasks.queued), (2, 0));
}

#[test]
fn the_last_lease_of_a_job_names_the_next_jobs_scene_only_when_it_differs() {
    let mut farm = Farm::new(SchedConfig::default());
    farm.submit(0, 8, 1);
    farm.submit(0, 4, 1);
    let other = farm.submit_scene(0, "other.gltf");
    let w = farm.worker();
    assert_eq!(farm.lease(w).unwrap().prefetch, None, "more of the same job follows");
    assert_eq!(farm.lease(w).unwrap().prefetch, None, "the next job has the same scene");
    let last_of_second = farm.lease(w).unwrap();
    let prefetch = last_of_second.prefetch.expect("the next job's scene differs");
    assert_eq!((prefetch.job_id, prefetch.scene.root.as_str()), (other, "other.gltf"));
}

#[test]
fn an_expired_lease_is_requeued_and_the_old_holder_is_fenced_off() {
    let mut farm = Farm::new(SchedConfig { lease_ms: 1000, ..Default::default() });
    let job = farm.submit(0, 4, 1);
    let (w1, w2) = (farm.worker(), farm.worker());
    let l1 = farm.lease(w1).unwrap();
    // Heartbeats keep it alive; nothing expires before the deadline.
    farm.run(|db, st, _| heartbeat(db, st, w1, l1.lease_id, now_ms())).unwrap();
    assert_eq!(farm.run(|db, st, after| reap(db, st, after, now_ms(), 10)).unwrap(), 0);
    assert_eq!(farm.run(|db, st, after| reap(db, st, after, now_ms() + 5000, 10)).unwrap(), 1);
    let l2 = farm.lease(w2).unwrap();
    assert_eq!((l2.task_id, l2.attempt), (l1.task_id, 2));

    let late = farm.complete(w1, &l1).unwrap_err();
    assert_eq!((late.status, late.code), (axum::http::StatusCode::CONFLICT, "lease_lost"));
    assert!(late.message.contains("handed to another worker"), "{}", late.message);
    let hb = farm.run(|db, st, _| heartbeat(db, st, w1, l1.lease_id, now_ms())).unwrap_err();
    assert_eq!(hb.code, "lease_lost");
    // The current holder cannot be impersonated by another worker id either, and
    // another worker's lease is answered as one that does not exist.
    let other = farm.complete(w1, &l2).unwrap_err();
    let missing = Lease { lease_id: 999_999, ..l2.clone() };
    let none = farm.complete(w1, &missing).unwrap_err();
    assert_eq!((other.status, other.code), (axum::http::StatusCode::NOT_FOUND, "unknown_lease"));
    assert_eq!((none.status, none.code), (other.status, other.code));
    assert_eq!(other.message.replace(&l2.lease_id.to_string(), "N"), none.message.replace("999999", "N"));

    farm.complete(w2, &l2).unwrap().unwrap();
    assert_eq!(farm.assembled.try_recv(), Ok(FrameKey { job_id: job, frame: 0 }));
    let s = farm.status(job);
    assert_eq!((s.tasks.done, s.frames[0].state.as_str()), (1, "assembling"));
    assert!(s.errors[0].message.contains("expired"), "{:?}", s.errors);
    let task = &s.task_list.unwrap()[0];
    assert_eq!((task.attempts, task.failures, task.state.as_str()), (2, 1, "done"));
    // A second upload for a done task is refused and stores nothing new.
    assert_eq!(farm.complete(w2, &l2).unwrap_err().code, "lease_lost");
    let stored: i64 = farm.db.query_row("SELECT count(*) FROM results", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 1);

    farm.run(|db, _, _| frame_assembled(db, FrameKey { job_id: job, frame: 0 }, &["frame_0000.exr".into()])).unwrap();
    let s = farm.status(job);
    assert_eq!((s.state, s.frames[0].outputs.clone()), (JobState::Done, vec!["frame_0000.exr".to_string()]));
    let stored: i64 = farm.db.query_row("SELECT count(*) FROM results", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0, "tile results are dropped once the frame is written");
}

#[test]
fn a_task_fails_after_max_attempts_and_retry_requeues_it() {
    let mut farm = Farm::new(SchedConfig { max_attempts: 2, blocklist_after: 10, ..Default::default() });
    let job = farm.submit(0, 4, 1);
    let w = farm.worker();
    let l = farm.lease(w).unwrap();
    farm.fail(w, &l);
    let l = farm.lease(w).unwrap();
    assert_eq!(l.attempt, 2);
    farm.fail(w, &l);
    assert!(farm.lease(w).is_none());
    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.failed, s.frames[0].state.as_str()), (JobState::Failed, 1, "failed"));
    assert_eq!(s.errors.len(), 2);
    assert!(s.errors[0].message.contains("boom"));

    assert_eq!(farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Retry)).unwrap(), JobState::Active);
    let s = farm.status(job);
    assert_eq!((s.tasks.queued, s.tasks.failed, s.frames[0].state.as_str()), (1, 0, "rendering"));
    let l = farm.lease(w).unwrap();
    farm.complete(w, &l).unwrap().unwrap();
    assert_eq!(farm.status(job).tasks.done, 1);
}

#[test]
fn a_worker_that_keeps_failing_a_job_is_blocklisted_for_it() {
    let mut farm = Farm::new(SchedConfig { max_attempts: 10, blocklist_after: 2, ..Default::default() });
    let job = farm.submit(0, 16, 1); // 4 tiles
    let (bad, good) = (farm.worker(), farm.worker());
    for _ in 0..2 {
        let l = farm.lease(bad).unwrap();
        farm.fail(bad, &l);
    }
    assert!(farm.lease(bad).is_none(), "blocklisted worker still gets tasks of the job");
    assert_eq!(farm.status(job).blocklisted_workers, vec![bad]);
    let other = farm.submit(0, 4, 1);
    assert_eq!(farm.lease(bad).unwrap().job_id, other, "the blocklist is per job");
    assert_eq!(farm.lease(good).unwrap().job_id, job);
}

#[test]
fn pause_resume_and_cancel() {
    let mut farm = Farm::new(SchedConfig::default());
    let job = farm.submit(0, 8, 1);
    let w = farm.worker();
    let running = farm.lease(w).unwrap();
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Pause)).unwrap();
    assert!(farm.lease(w).is_none(), "a paused job hands out nothing");
    let again = farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Pause)).unwrap_err();
    assert_eq!(again.code, "invalid_state");
    // A task running when the job was paused still finishes.
    farm.complete(w, &running).unwrap().unwrap();
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Resume)).unwrap();
    let l = farm.lease(w).unwrap();
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Cancel)).unwrap();
    assert_eq!(farm.complete(w, &l).unwrap_err().code, "lease_lost");
    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.done, s.tasks.cancelled), (JobState::Cancelled, 1, 1));

    let bob = Principal::user("bob", false, &[("default", crate::farm::access::ProjectRole::Artist)]);
    let err = farm.run(|db, st, a| control(db, st, a, &bob, job, Control::Retry)).unwrap_err();
    assert_eq!(err.status, axum::http::StatusCode::FORBIDDEN, "an artist controls only their own jobs");
    let stranger = Principal::user("eve", false, &[]);
    let err = farm.run(|db, st, a| control(db, st, a, &stranger, job, Control::Retry)).unwrap_err();
    assert_eq!((err.status, err.code), (axum::http::StatusCode::NOT_FOUND, "unknown_job"));
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Retry)).unwrap();
    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.queued, s.tasks.cancelled), (JobState::Active, 1, 0));
}

#[test]
fn a_result_for_the_wrong_tile_is_refused_and_counted_as_a_failure() {
    let mut farm = Farm::new(SchedConfig::default());
    let job = farm.submit(0, 8, 1);
    let w = farm.worker();
    let l = farm.lease(w).unwrap();
    let mut t = l.task;
    t.tile.x += 4;
    let result = TileResult {
        frame: t.frame,
        tile: t.tile,
        samples: t.samples,
        pixels: vec![PixelSums::default(); 16],
        rays: 0,
    };
    let bytes = crate::farm::protocol::encode_result(&result);
    let refused = farm.run(|db, st, after| {
        complete(
            db,
            st,
            after,
            Upload { worker_id: w, lease_id: l.lease_id, result, bytes, invalid: None, energy_j: None },
        )
    });
    let refused = refused.unwrap().unwrap_err();
    assert_eq!(refused.code, "bad_result");
    let s = farm.status(job);
    assert_eq!((s.tasks.queued, s.tasks.done), (2, 0));
    assert!(s.errors[0].message.contains("bad result"));
}

#[test]
fn impossible_jobs_are_refused_with_the_field_named() {
    let mut farm = Farm::new(SchedConfig::default());
    let base = JobSpec {
        name: "x".into(),
        project: None,
        scene: SceneManifest {
            root: "s.gltf".into(),
            files: vec![BundleFile { path: "s.gltf".into(), sha256: HASH.into(), size: 1 }],
        },
        settings: RenderSettings::default(),
        frames: FrameRange { first: 0, last: 0, step: 1 },
        tile: 64,
        samples_per_task: 64,
        priority: 0,
        denoise: false,
        formats: vec![OutputFormat::Png],
        output: OutputOptions::default(),
        preview_movie: false,
    };
    let cases: Vec<(JobSpec, &str)> = vec![
        (JobSpec { tile: 0, ..base.clone() }, "tile"),
        (JobSpec { tile: 4096, ..base.clone() }, "tile"),
        (JobSpec { settings: RenderSettings { spp: 0, ..Default::default() }, ..base.clone() }, "settings"),
        (JobSpec { formats: vec![], ..base.clone() }, "formats"),
        (JobSpec { priority: 5000, ..base.clone() }, "priority"),
        (JobSpec { frames: FrameRange { first: 0, last: 10_000_000, step: 1 }, ..base.clone() }, "frames"),
        (JobSpec { frames: FrameRange { first: 0, last: 4, step: 0 }, ..base.clone() }, "frames.step"),
        (JobSpec { preview_movie: true, formats: vec![OutputFormat::Exr], ..base.clone() }, "preview_movie"),
        (
            JobSpec {
                scene: SceneManifest {
                    root: "../s.gltf".into(),
                    files: vec![BundleFile { path: "../s.gltf".into(), sha256: HASH.into(), size: 1 }],
                },
                ..base.clone()
            },
            "scene",
        ),
        (
            JobSpec {
                scene: SceneManifest {
                    root: "s.gltf".into(),
                    files: vec![BundleFile { path: "s.gltf".into(), sha256: "b".repeat(64), size: 1 }],
                },
                ..base.clone()
            },
            "not uploaded",
        ),
    ];
    for (spec, field) in cases {
        let err = farm.run(|db, st, after| submit(db, st, after, &alice(), "default", spec)).unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.message.contains(field), "{field}: {}", err.message);
    }
    let jobs: i64 = farm.db.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0)).unwrap();
    assert_eq!(jobs, 0);
}

#[test]
fn tasks_created_lazily_follow_the_order_of_the_settings_task_list() {
    for (width, height, tile, spp, per_task, frames) in
        [(64, 48, 16, 4, 4, 1), (50, 33, 16, 7, 3, 3), (5, 1, 1, 1, 1, 2), (17, 17, 64, 10, 1, 1)]
    {
        let spec = JobSpec {
            name: "grid".into(),
            project: None,
            scene: SceneManifest {
                root: "s.gltf".into(),
                files: vec![BundleFile { path: "s.gltf".into(), sha256: HASH.into(), size: 1 }],
            },
            settings: RenderSettings { width, height, spp, ..Default::default() },
            // Steps of 2 and 4 as well as 1; the last frame is one the step lands on.
            frames: FrameRange { first: 7, last: 7 + (frames - 1) * (frames % 3 + 1), step: frames % 3 + 1 },
            tile,
            samples_per_task: per_task,
            priority: 0,
            denoise: false,
            formats: vec![OutputFormat::Exr],
            output: OutputOptions::default(),
            preview_movie: false,
        };
        let listed: Vec<(u32, Tile, SampleRange)> = spec
            .frames
            .iter()
            .flat_map(|f| spec.settings.tasks(f, tile, per_task))
            .map(|t| (t.frame, t.tile, t.samples))
            .collect();
        let total = check_spec(&spec, &JobLimits::default()).unwrap();
        assert_eq!(total, listed.len() as u64);
        let computed: Vec<_> = (0..total).map(|i| task_at(&spec, i)).collect();
        assert_eq!(computed, listed, "{width}x{height} tile {tile} spp {spp}/{per_task} x {frames} frames");
    }
}

#[test]
fn a_huge_job_is_one_row_until_leased_and_cancelling_it_touches_only_its_started_tasks() {
    let mut farm = Farm::new(SchedConfig::default());
    let job = farm.submit(0, 4000, 500); // 1000 tiles x 500 frames = 500,000 tasks
    let rows = |farm: &Farm, table: &str| -> i64 {
        farm.db.query_row(&format!("SELECT count(*) FROM {table} WHERE job_id = ?1"), [job], |r| r.get(0)).unwrap()
    };
    assert_eq!((rows(&farm, "tasks"), rows(&farm, "frames")), (0, 0));
    let s = farm.status(job);
    assert_eq!((s.tasks.queued, s.frames_total, s.frames.len()), (500_000, 500, 0));
    let w = farm.worker();
    let first = farm.lease(w).unwrap();
    let second = farm.lease(w).unwrap();
    assert_eq!((first.task.frame, first.task.tile.x, second.task.tile.x), (0, 0, 4));
    assert_eq!((rows(&farm, "tasks"), rows(&farm, "frames")), (2, 1));
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Cancel)).unwrap();
    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.cancelled, s.tasks.queued, s.tasks.leased), (JobState::Cancelled, 500_000, 0, 0));
    assert_eq!(farm.complete(w, &first).unwrap_err().code, "lease_lost");
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Retry)).unwrap();
    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.queued, s.tasks.cancelled), (JobState::Active, 500_000, 0));
    let again: Vec<u32> = (0..3).map(|_| farm.lease(w).unwrap().task.tile.x).collect();
    assert_eq!(again, vec![0, 4, 8], "the cancelled tasks come back first, then new ones");
}

#[test]
fn a_job_fails_once_every_online_worker_is_blocklisted_for_it() {
    let mut farm = Farm::new(SchedConfig { max_attempts: 10, blocklist_after: 2, ..Default::default() });
    let job = farm.submit(0, 400, 10); // 1,000 tasks
    let (a, b) = (farm.worker(), farm.worker());
    for w in [a, a, b] {
        let l = farm.lease(w).unwrap();
        farm.fail(w, &l);
    }
    assert_eq!(farm.status(job).state, JobState::Active, "worker b may still render it");
    let running = farm.lease(b).unwrap();
    let s = farm.status(job);
    assert_eq!(s.tasks.leased, 1);
    farm.fail(b, &running);
    let s = farm.status(job);
    assert_eq!(s.state, JobState::Failed, "{s:?}");
    assert_eq!((s.tasks.failed, s.tasks.queued, s.tasks.leased), (1000, 0, 0));
    let error = s.error.expect("the job says why it failed");
    assert!(error.contains("every online worker") && error.contains("boom"), "{error}");
    assert!(farm.lease(a).is_none() && farm.lease(b).is_none());
    // A worker that was not online then would not have saved it, and retry starts over.
    farm.run(|db, st, a| control(db, st, a, &alice(), job, Control::Retry)).unwrap();
    let s = farm.status(job);
    assert_eq!((s.state, s.tasks.queued, s.error), (JobState::Active, 1000, None));
    assert!(farm.lease(a).is_some(), "retry clears the blocklist");
}

#[test]
fn a_preview_movie_waits_for_the_last_frame_and_a_failed_one_is_made_again_on_retry() {
    use crate::farm::protocol::PreviewStatus;
    let mut farm = Farm::new(SchedConfig::default());
    let plain = farm.submit(0, 4, 1);
    let job = farm.submit_job(0, 4, 2, "s.gltf", true);
    assert_eq!((farm.status(plain).preview, farm.status(job).preview), (None, Some(PreviewStatus::Waiting)));
    let w = farm.worker();
    let mut frame = 0;
    while let Some(l) = farm.lease(w) {
        farm.complete(w, &l).unwrap().unwrap();
        let key = FrameKey { job_id: l.job_id, frame: l.task.frame };
        farm.run(|db, _, _| frame_assembled(db, key, &["frame.png".into()])).unwrap();
        let waiting: Vec<i64> = previews_waiting(&farm.db).unwrap().into_iter().map(|(id, _)| id).collect();
        if l.job_id == job {
            frame += 1;
            // Only once every frame is done, and never for a job that did not ask.
            assert_eq!(waiting, if frame == 2 { vec![job] } else { vec![] }, "after frame {frame}");
        }
    }
    assert_eq!(farm.status(job).state, JobState::Done);

    farm.run(|db, _, _| preview_recorded(db, job, Some("no ffmpeg"))).unwrap();
    assert_eq!(farm.status(job).preview, Some(PreviewStatus::Failed("no ffmpeg".into())));
    assert!(previews_waiting(&farm.db).unwrap().is_empty());
    let admin = Principal::user("root", true, &[]);
    let has_movie = |farm: &Farm| queries::has_output(&farm.db, &admin, job, "preview.mp4").unwrap();
    assert!(!has_movie(&farm));

    let state = farm.run(|db, st, after| control(db, st, after, &alice(), job, Control::Retry)).unwrap();
    assert_eq!((state, farm.status(job).preview), (JobState::Done, Some(PreviewStatus::Waiting)));
    assert_eq!(previews_waiting(&farm.db).unwrap().len(), 1);
    farm.run(|db, _, _| preview_recorded(db, job, None)).unwrap();
    assert_eq!(farm.status(job).preview, Some(PreviewStatus::Done));
    assert!(has_movie(&farm));
    // Nothing failed now: a second retry is refused.
    assert!(farm.run(|db, st, after| control(db, st, after, &alice(), job, Control::Retry)).is_err());
}
