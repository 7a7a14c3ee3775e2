//! Usage accounting of a real job: worker-seconds, samples and energy.

mod farm_support;

use std::time::Duration;

use farm_support::*;
use tessera::farm::protocol::JobState;
use tessera::farm::usage::{Filter, GroupBy};

#[test]
fn a_jobs_usage_is_the_sum_of_its_leases_and_energy_is_absent_where_unmeasured() {
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms"]);
    farm.add_worker(&[]);
    farm.add_worker(&[]);
    let job = farm.submit(&farm.admin, "1-2");
    let done = farm.wait_status(job, Duration::from_secs(120), "the job to finish", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());

    let api = farm.api(&farm.admin);
    let rows = tessera::farm::client::usage(&api, &Filter { by: GroupBy::Job, job: Some(job), ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}\n{}", farm.logs()));
    assert_eq!(rows.len(), 1, "one backend and device: {rows:?}");
    let usage = &rows[0];
    assert_eq!((usage.key.as_str(), usage.backend.as_str()), (job.to_string().as_str(), "cpu"));

    // The coordinator's own record of the leases, read independently.
    let db = rusqlite::Connection::open(farm.data().join("farm.sqlite")).unwrap();
    let (leases, lease_ms): (i64, i64) = db
        .query_row(
            "SELECT count(*), sum(l.ended_ms - l.started_ms) FROM leases l JOIN tasks t ON t.id = l.task_id
             WHERE t.job_id = ?1",
            [job],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(usage.attempts, leases as u64);
    assert!((usage.worker_seconds - lease_ms as f64 / 1e3).abs() < 1e-9, "{usage:?} vs {lease_ms} ms");
    assert!(usage.worker_seconds > 0.0);
    // QUALITY: 64×48 pixels, 4 samples, two frames.
    assert_eq!(usage.samples, 64 * 48 * 4 * 2);

    let rapl = std::fs::read_dir("/sys/class/powercap")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_to_string(e.path().join("energy_uj")).is_ok());
    if rapl {
        eprintln!("this machine reports RAPL energy: checking it is measured");
        assert!(usage.energy_j.is_some_and(|j| j >= 0.0) && usage.energy_measured == leases as u64, "{usage:?}");
    } else {
        eprintln!("no energy counter is readable here: checking energy is absent, not zero");
        assert_eq!((usage.energy_j, usage.energy_measured), (None, 0), "{usage:?}");
    }

    // Another project's viewer sees none of it; /metrics has the totals.
    let outsider = farm.user("olga", &[("ads", "viewer")]);
    let theirs = tessera::farm::client::usage(&farm.api(&outsider), &Filter::default()).unwrap();
    assert!(theirs.is_empty(), "{theirs:?}");
    let metrics = reqwest::blocking::Client::new()
        .get(format!("{}/metrics", farm.url()))
        .bearer_auth(&farm.admin)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains(&format!("tessera_samples_total{{backend=\"cpu\"}} {}\n", 64 * 48 * 4 * 2)), "{metrics}");
}
