//! Preview movies of finished jobs (`submit --preview-movie`): once every frame of
//! such a job is assembled, its PNG frames are encoded into
//! `DATA/outputs/JOB/preview.mp4` (H.264, the job's frame rate) by ffmpeg, as
//! Flamenco does. The movie is written under a temporary name and renamed, and
//! only then recorded, so a coordinator stopped in between encodes it again on
//! restart. A failure (ffmpeg missing, say) is kept on the job for people to
//! read and does not fail the frames; retrying the job encodes again.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::assemble::{job_dir, output_pattern};
use super::protocol::JobSpec;
use super::scheduler::{self, SchedState};
use super::store::writer::Writer;
use super::store::ReadPool;
use crate::output::movie::Sequence;

/// The movie's name among a job's outputs.
pub const PREVIEW_NAME: &str = "preview.mp4";

/// How often the encoder looks for waiting movies without being woken (a job
/// retried after a failed movie, say).
const POLL: Duration = Duration::from_secs(30);

/// Starts the encoder thread: it looks for jobs waiting for a movie at start,
/// whenever `wake` receives, and every [`POLL`], until `wake` is closed.
pub fn spawn(wake: Receiver<()>, reads: ReadPool, writer: Writer<SchedState>, outputs: PathBuf) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("farm-preview".into())
        .spawn(move || loop {
            encode_waiting(&reads, &writer, &outputs);
            match wake.recv_timeout(POLL) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        })
        .expect("spawn the preview thread")
}

fn encode_waiting(reads: &ReadPool, writer: &Writer<SchedState>, outputs: &Path) {
    let waiting = match reads.read_blocking(scheduler::previews_waiting) {
        Ok(jobs) => jobs,
        Err(e) => return tracing::error!("cannot list the preview movies to make: {e}"),
    };
    for (job_id, spec) in waiting {
        let outcome = encode(outputs, job_id, &spec);
        match &outcome {
            Ok(()) => tracing::info!("job {job_id}: wrote {PREVIEW_NAME}"),
            Err(message) => tracing::error!("job {job_id}: no preview movie: {message}"),
        }
        let error = outcome.err();
        if let Err(e) = writer.call_blocking(move |db, _, _| scheduler::preview_recorded(db, job_id, error.as_deref()))
        {
            tracing::error!("job {job_id}: cannot record the preview movie: {e}");
        }
    }
}

/// Encodes the job's PNG frames, in frame order, into its preview movie.
fn encode(outputs: &Path, job_id: i64, spec: &JobSpec) -> Result<(), String> {
    let dir = job_dir(outputs, job_id);
    // Messages are for the job's owner: they name its files, not where the coordinator keeps them.
    let private = |e: &dyn std::fmt::Display| e.to_string().replace(&format!("{}/", dir.display()), "");
    let sequence = Sequence::find(&dir.join(output_pattern("png")), Some(spec.frames)).map_err(|e| private(&e))?;
    let partial = dir.join(format!(".{PREVIEW_NAME}.part"));
    sequence.encode(&partial, spec.settings.fps).map_err(|e| private(&e))?;
    std::fs::rename(&partial, dir.join(PREVIEW_NAME)).map_err(|e| format!("{PREVIEW_NAME}: {e}"))
}
