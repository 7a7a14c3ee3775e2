//! `/metrics` in the Prometheus text format: tasks by state, workers by state,
//! lease latency (a histogram of the time from a lease request reaching the
//! coordinator to the committed lease, long-poll waits excluded), tiles
//! completed (a counter, and tiles/s over the last minute).

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the lease latency histogram buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Window of the tiles/s gauge.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Counters kept in memory by the coordinator (reset on restart, as Prometheus expects).
pub struct Metrics {
    started: Instant,
    lease_buckets: [AtomicU64; BUCKETS.len()],
    lease_count: AtomicU64,
    lease_sum_us: AtomicU64,
    tiles_done: AtomicU64,
    tasks_failed: AtomicU64,
    /// Tiles finished per second, for the last [`RATE_WINDOW`]: (second since start, count).
    recent: Mutex<VecDeque<(u64, u64)>>,
    /// Per backend.
    usage: Mutex<std::collections::BTreeMap<String, BackendUsage>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            lease_buckets: Default::default(),
            lease_count: AtomicU64::new(0),
            lease_sum_us: AtomicU64::new(0),
            tiles_done: AtomicU64::new(0),
            tasks_failed: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::new()),
            usage: Mutex::default(),
        }
    }
}

/// Worker-seconds, samples, and joules where measured, of one backend.
#[derive(Clone, Copy, Debug, Default)]
struct BackendUsage(f64, u64, Option<f64>);

/// Counts read from the database at scrape time.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// (state, count) for every task state.
    pub tasks: Vec<(&'static str, u64)>,
    pub workers_busy: u64,
    pub workers_idle: u64,
    pub workers_offline: u64,
    pub jobs: Vec<(&'static str, u64)>,
}

impl Metrics {
    /// Counts a finished attempt of a task on `backend`.
    pub fn add_usage(&self, backend: &str, seconds: f64, samples: u64, energy_j: Option<f64>) {
        let mut usage = self.usage.lock().expect("usage counters");
        let entry = usage.entry(backend.to_string()).or_default();
        entry.0 += seconds;
        entry.1 += samples;
        if let Some(j) = energy_j {
            *entry.2.get_or_insert(0.0) += j;
        }
    }

    pub fn observe_lease(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        for (bucket, bound) in self.lease_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.lease_count.fetch_add(1, Ordering::Relaxed);
        self.lease_sum_us.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn tile_done(&self) {
        self.tiles_done.fetch_add(1, Ordering::Relaxed);
        let second = self.started.elapsed().as_secs();
        let mut recent = self.recent.lock().expect("metrics lock");
        match recent.back_mut() {
            Some((s, n)) if *s == second => *n += 1,
            _ => recent.push_back((second, 1)),
        }
        while recent.front().is_some_and(|(s, _)| *s + RATE_WINDOW.as_secs() < second) {
            recent.pop_front();
        }
    }

    pub fn task_failed(&self) {
        self.tasks_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Tiles per second over the last minute (or since start, if sooner).
    pub fn tiles_per_second(&self) -> f64 {
        let now = self.started.elapsed();
        let window = now.min(RATE_WINDOW).as_secs_f64().max(1.0);
        let since = now.as_secs().saturating_sub(RATE_WINDOW.as_secs());
        let recent = self.recent.lock().expect("metrics lock");
        recent.iter().filter(|(s, _)| *s >= since).map(|(_, n)| *n).sum::<u64>() as f64 / window
    }

    /// The exposition text.
    pub fn render(&self, snap: &Snapshot) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, rows: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let by_state = |rows: &[(&str, u64)]| -> Vec<(String, String)> {
            rows.iter().map(|(s, n)| (format!("{{state=\"{s}\"}}"), n.to_string())).collect()
        };
        gauge("tessera_tasks", "Tasks by state.", "gauge", &by_state(&snap.tasks));
        gauge("tessera_jobs", "Jobs by state.", "gauge", &by_state(&snap.jobs));
        let workers = [("busy", snap.workers_busy), ("idle", snap.workers_idle), ("offline", snap.workers_offline)];
        gauge("tessera_workers", "Registered workers by state.", "gauge", &by_state(&workers));
        let tiles = self.tiles_done.load(Ordering::Relaxed);
        gauge(
            "tessera_tiles_completed_total",
            "Tile results accepted since the coordinator started.",
            "counter",
            &[(String::new(), tiles.to_string())],
        );
        gauge(
            "tessera_tiles_per_second",
            "Tile results accepted per second over the last minute.",
            "gauge",
            &[(String::new(), format!("{:.3}", self.tiles_per_second()))],
        );
        gauge(
            "tessera_task_failures_total",
            "Failed task attempts (errors, expired leases, bad results) since start.",
            "counter",
            &[(String::new(), self.tasks_failed.load(Ordering::Relaxed).to_string())],
        );
        let mut rows: Vec<(String, String)> = BUCKETS
            .iter()
            .zip(&self.lease_buckets)
            .map(|(b, n)| (format!("_bucket{{le=\"{b}\"}}"), n.load(Ordering::Relaxed).to_string()))
            .collect();
        let count = self.lease_count.load(Ordering::Relaxed);
        rows.push(("_bucket{le=\"+Inf\"}".into(), count.to_string()));
        rows.push(("_sum".into(), format!("{:.6}", self.lease_sum_us.load(Ordering::Relaxed) as f64 / 1e6)));
        rows.push(("_count".into(), count.to_string()));
        gauge(
            "tessera_lease_latency_seconds",
            "Time from a lease request to its committed lease (long-poll waits excluded).",
            "histogram",
            &rows,
        );
        let usage = self.usage.lock().expect("usage counters").clone();
        let per_backend = |f: &dyn Fn(&BackendUsage) -> Option<String>| -> Vec<(String, String)> {
            usage.iter().filter_map(|(b, u)| Some((format!("{{backend=\"{b}\"}}"), f(u)?))).collect()
        };
        let help = "since start, by the coordinator's clock";
        let seconds = per_backend(&|u| Some(format!("{:.3}", u.0)));
        gauge(
            "tessera_worker_seconds_total",
            &format!("Worker-seconds of finished task attempts {help}."),
            "counter",
            &seconds,
        );
        let samples = per_backend(&|u| Some(u.1.to_string()));
        gauge("tessera_samples_total", "Samples of accepted results since start.", "counter", &samples);
        // Only backends whose workers measure energy: absent is not zero.
        let energy = per_backend(&|u| u.2.map(|j| format!("{j:.3}")));
        gauge(
            "tessera_energy_joules_total",
            "Energy of task attempts where measured, since start.",
            "counter",
            &energy,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_text_is_well_formed() {
        let m = Metrics::default();
        m.observe_lease(Duration::from_micros(300));
        m.observe_lease(Duration::from_millis(3));
        m.observe_lease(Duration::from_secs(10));
        for _ in 0..5 {
            m.tile_done();
        }
        m.add_usage("cpu", 1.5, 100, None);
        m.add_usage("cuda", 2.0, 50, Some(3.0));
        let snap = Snapshot { tasks: vec![("queued", 7), ("done", 5)], workers_idle: 2, ..Default::default() };
        let text = m.render(&snap);
        assert!(text.contains("tessera_lease_latency_seconds_bucket{le=\"0.0005\"} 1\n"), "{text}");
        assert!(text.contains("tessera_lease_latency_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("tessera_lease_latency_seconds_bucket{le=\"2.5\"} 2\n"));
        assert!(text.contains("tessera_lease_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("tessera_lease_latency_seconds_count 3\n"));
        assert!(text.contains("tessera_tasks{state=\"queued\"} 7\n"));
        assert!(text.contains("tessera_workers{state=\"idle\"} 2\n"));
        assert!(text.contains("tessera_tiles_completed_total 5\n"));
        assert!(m.tiles_per_second() > 0.0);
        assert!(text.contains("tessera_worker_seconds_total{backend=\"cpu\"} 1.500\n"), "{text}");
        assert!(text.contains("tessera_energy_joules_total{backend=\"cuda\"} 3.000\n"));
        assert!(!text.contains("tessera_energy_joules_total{backend=\"cpu\"}"), "unmeasured energy is absent");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
        }
    }
}
