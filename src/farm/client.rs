//! The user's side: submit a scene, follow and control jobs, download frames.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;

use super::bundle;
use super::http::{Api, ClientError};
use super::preview::PREVIEW_NAME;
use super::protocol::{
    JobSpec, JobStatus, JobSummary, MissingRequest, MissingResponse, Page, PageQuery, PreviewStatus, SubmitResponse,
    API,
};
use crate::render::settings::prepare_frame;
use crate::scene::{Environment, EnvironmentSpec, Scene};

/// Builds the bundle of `scene`, uploads the files the coordinator lacks and
/// submits the job. `spec.scene` and an environment map path in
/// `spec.settings` are filled in here.
pub fn submit(api: &Api, scene: &Path, mut spec: JobSpec) -> anyhow::Result<SubmitResponse> {
    // Check locally first: a broken scene should fail here, not on every worker.
    let loaded = Scene::load(scene)?;
    let env_file = match &spec.settings.environment {
        Some(EnvironmentSpec::Map(path)) => Some(path.clone()),
        _ => None,
    };
    let env = spec.settings.environment.as_ref().map(Environment::load).transpose()?;
    prepare_frame(&loaded, env.as_ref(), &spec.settings, spec.frames.first)?;
    drop((loaded, env));

    let local = bundle::build(scene, env_file.as_deref())?;
    if let Some(rel) = &local.environment {
        spec.settings.environment = Some(EnvironmentSpec::Map(PathBuf::from(rel)));
    }
    let hashes: Vec<String> = local.manifest.files.iter().map(|f| f.sha256.clone()).collect();
    let project = spec.project.clone();
    let missing: MissingResponse = api.json(
        api.request(Method::POST, &format!("{API}/blobs/missing"))
            .json(&MissingRequest { hashes, project: project.clone() }),
    )?;
    let mut sent = 0u64;
    for hash in &missing.missing {
        let path = local.source_of(hash).ok_or_else(|| ClientError::Decode(format!("unknown hash {hash}")))?;
        let file = std::fs::File::open(path).map_err(|e| ClientError::Local(format!("{}: {e}", path.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let body = reqwest::blocking::Body::sized(file, size);
        api.send(
            api.request(Method::PUT, &format!("{API}/blobs/{hash}"))
                .query(&[("project", project.as_deref())])
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .timeout(Duration::from_secs(3600))
                .body(body),
        )?;
        sent += size;
    }
    eprintln!(
        "Scene bundle: {} files, {} uploaded ({} bytes), {} already on the coordinator",
        local.manifest.files.len(),
        missing.missing.len(),
        sent,
        local.manifest.files.len() - missing.missing.len()
    );
    spec.scene = local.manifest;
    Ok(api.json(api.request(Method::POST, &format!("{API}/jobs")).json(&spec))?)
}

pub fn job_status(api: &Api, job: i64, tasks: bool) -> Result<JobStatus, ClientError> {
    let query = if tasks { "?tasks=true" } else { "" };
    api.json(api.request(Method::GET, &format!("{API}/jobs/{job}{query}")))
}

/// One page of the jobs of the caller's projects (or of `project`), newest first.
pub fn list_jobs(api: &Api, project: Option<&str>, page: PageQuery) -> Result<Page<JobSummary>, ClientError> {
    let query = [
        ("project", project.map(str::to_string)),
        ("limit", page.limit.map(|l| l.to_string())),
        ("after", page.after.map(|a| a.to_string())),
    ];
    api.json(api.request(Method::GET, &format!("{API}/jobs")).query(&query))
}

/// Usage the caller may see, summed as `filter` says (every page).
pub fn usage(api: &Api, filter: &super::usage::Filter) -> Result<Vec<super::usage::Usage>, ClientError> {
    let by = serde_json::to_value(filter.by).ok().and_then(|v| v.as_str().map(str::to_string));
    let (mut rows, mut after) = (Vec::new(), None);
    loop {
        let query = [
            ("by", by.clone()),
            ("project", filter.project.clone()),
            ("user", filter.user.clone()),
            ("job", filter.job.map(|j| j.to_string())),
            ("since_ms", filter.since_ms.map(|s| s.to_string())),
            ("limit", Some(PageQuery::MAX.to_string())),
            ("after", after.map(|a: i64| a.to_string())),
        ];
        let page: Page<super::usage::Usage> =
            api.json(api.request(Method::GET, &format!("{API}/usage")).query(&query))?;
        rows.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// Sets a job's priority.
pub fn set_priority(api: &Api, job: i64, priority: i32) -> Result<(), ClientError> {
    let body = serde_json::json!({ "priority": priority });
    api.send(api.request(Method::POST, &format!("{API}/jobs/{job}/priority")).json(&body)).map(drop)
}

/// `cancel`, `pause`, `resume` or `retry`; returns the job's new state.
pub fn control(api: &Api, job: i64, action: &str) -> Result<String, ClientError> {
    let reply: serde_json::Value = api.json(api.request(Method::POST, &format!("{API}/jobs/{job}/{action}")))?;
    Ok(reply["state"].as_str().unwrap_or("?").to_string())
}

/// Prints one job's status for people.
pub fn print_status(s: &JobStatus) {
    let t = s.tasks;
    println!("Job {} \"{}\" by {} in {}: {} (priority {})", s.id, s.name, s.owner, s.project, s.state, s.priority);
    println!(
        "Tasks: {}/{} done, {} queued, {} rendering, {} failed, {} cancelled",
        t.done, t.total, t.queued, t.leased, t.failed, t.cancelled
    );
    for f in &s.frames {
        let outputs = if f.outputs.is_empty() { String::new() } else { format!("  {}", f.outputs.join(", ")) };
        let error = f.error.as_deref().map(|e| format!("  error: {e}")).unwrap_or_default();
        println!("  frame {:>5}: {:<10} {}/{} tiles{outputs}{error}", f.frame, f.state, f.tasks_done, f.tasks_total);
    }
    if let Some(error) = &s.error {
        println!("Failed: {error}");
    }
    match &s.preview {
        Some(PreviewStatus::Waiting) => println!("Preview movie: made when every frame is done"),
        Some(PreviewStatus::Done) => println!("Preview movie: {PREVIEW_NAME}"),
        Some(PreviewStatus::Failed(why)) => println!("Preview movie failed: {why} (retry the job to make it again)"),
        None => {}
    }
    if !s.blocklisted_workers.is_empty() {
        println!("Blocklisted workers: {:?}", s.blocklisted_workers);
    }
    for e in s.errors.iter().take(10) {
        println!(
            "  error: task {} frame {} attempt {} worker {}: {}",
            e.task_id,
            e.frame,
            e.attempt,
            e.worker.map_or("-".into(), |w| w.to_string()),
            e.message
        );
    }
}

/// Prints the job list.
pub fn print_jobs(jobs: &[JobSummary]) {
    println!(
        "{:>6}  {:<10} {:>8}  {:>13}  {:>9}  {:<12} {:<10} name",
        "id", "state", "priority", "tasks", "frames", "project", "owner"
    );
    for j in jobs {
        println!(
            "{:>6}  {:<10} {:>8}  {:>13}  {:>9}  {:<12} {:<10} {}",
            j.id,
            j.state.as_str(),
            j.priority,
            format!("{}/{}", j.tasks.done, j.tasks.total),
            format!("{}/{}", j.frames_done, j.frames_total),
            j.project,
            j.owner,
            j.name
        );
    }
}

/// Follows a job with a progress bar until it finishes; fails unless it is done.
pub fn watch(api: &Api, job: i64, poll: Duration) -> anyhow::Result<JobStatus> {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} tiles  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut transient = 0;
    let status = loop {
        let status = match job_status(api, job, false) {
            Ok(s) => s,
            Err(e) if e.is_transient() && transient < 600 => {
                transient += 1;
                bar.set_message(format!("coordinator unreachable, retrying ({e})"));
                std::thread::sleep(poll);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        transient = 0;
        let frames_done = status.frames.iter().filter(|f| f.state == "done").count();
        bar.set_length(status.tasks.total);
        bar.set_position(status.tasks.done);
        bar.set_message(format!(
            "{} · frames {frames_done}/{} · {} rendering{}",
            status.state,
            status.frames_total,
            status.tasks.leased,
            if status.tasks.failed > 0 { format!(" · {} failed", status.tasks.failed) } else { String::new() }
        ));
        if status.state.is_finished() {
            break status;
        }
        std::thread::sleep(poll);
    };
    bar.finish();
    match status.state {
        super::protocol::JobState::Done => Ok(status),
        other => {
            print_status(&status);
            anyhow::bail!("job {job} ended {other}")
        }
    }
}

/// Downloads every output of a job into `dir`; returns the files written.
pub fn download(api: &Api, job: i64, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let status = job_status(api, job, false)?;
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
    let mut written = Vec::new();
    let movie = (status.preview == Some(PreviewStatus::Done)).then(|| PREVIEW_NAME.to_string());
    for name in status.frames.iter().flat_map(|f| &f.outputs).chain(&movie) {
        let mut response = api.send(
            api.request(Method::GET, &format!("{API}/jobs/{job}/outputs/{name}")).timeout(Duration::from_secs(3600)),
        )?;
        // Output names come from the coordinator; keep them to a plain file name.
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            anyhow::bail!("coordinator sent an unsafe output name \"{name}\"");
        }
        let dest = dir.join(name);
        let tmp = dir.join(format!(".{name}.part"));
        let mut file = std::fs::File::create(&tmp).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
        response.copy_to(&mut file).map_err(|e| anyhow::anyhow!("downloading {name}: {e}"))?;
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&tmp, &dest)?;
        written.push(dest);
    }
    Ok(written)
}
