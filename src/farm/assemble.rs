//! Frame assembly: once every tile of a frame is in, its results go through a
//! [`Film`], the full frame is denoised once if the job asks, and the images
//! are written to `DATA/outputs/JOB/frame_NNNN.{exr,png}`. Only after the files
//! are on disk is the frame recorded as done and its tile results dropped; a
//! coordinator killed in between assembles the frame again on restart.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

use super::error::ApiError;
use super::protocol::{decode_result, JobSpec};
use super::scheduler::{self, FrameKey, SchedState};
use super::store::writer::Writer;
use super::store::ReadPool;
use crate::denoise::{self, DenoiseDevice};
use crate::output;
use crate::render::film::Film;

/// The output folder of a job.
pub fn job_dir(outputs: &Path, job_id: i64) -> PathBuf {
    outputs.join(job_id.to_string())
}

/// File name of a frame's output in `extension`.
pub fn output_name(frame: u32, extension: &str) -> String {
    format!("frame_{frame:04}.{extension}")
}

/// [`output_name`] with the frame number as a run of '#' (a sequence pattern).
pub fn output_pattern(extension: &str) -> String {
    format!("frame_####.{extension}")
}

/// Starts the assembler thread; it runs until `frames` is closed.
/// After each frame it wakes the preview encoder (`previews`).
pub fn spawn(
    frames: Receiver<FrameKey>,
    reads: ReadPool,
    writer: Writer<SchedState>,
    outputs: PathBuf,
    previews: Sender<()>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("farm-assembler".into())
        .spawn(move || {
            for key in frames {
                let outcome = assemble(&reads, &outputs, key);
                let recorded = match outcome {
                    Ok(names) => {
                        tracing::info!("job {} frame {}: assembled {}", key.job_id, key.frame, names.join(", "));
                        writer.call_blocking(move |db, _, _| scheduler::frame_assembled(db, key, &names))
                    }
                    Err(message) => {
                        tracing::error!("job {} frame {}: {message}", key.job_id, key.frame);
                        writer.call_blocking(move |db, _, _| scheduler::frame_failed(db, key, &message))
                    }
                };
                if let Err(e) = recorded {
                    tracing::error!("job {} frame {}: cannot record assembly: {e}", key.job_id, key.frame);
                }
                let _ = previews.send(());
            }
        })
        .expect("spawn the assembler thread")
}

/// Assembles one frame; returns the names of the files written.
fn assemble(reads: &ReadPool, outputs: &Path, key: FrameKey) -> Result<Vec<String>, String> {
    // Results are added to the film row by row as they are read, so a large
    // frame is never held twice in memory.
    let (spec, film) = reads
        .read_blocking(|conn| {
            let (spec, total): (String, i64) = conn.query_row(
                "SELECT j.spec, f.tasks_total FROM jobs j JOIN frames f ON f.job_id = j.id
                 WHERE j.id = ?1 AND f.frame = ?2",
                rusqlite::params![key.job_id, key.frame],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let spec: JobSpec = match serde_json::from_str(&spec) {
                Ok(spec) => spec,
                Err(e) => return Ok(Err(format!("stored job spec: {e}"))),
            };
            let mut film = Film::new(spec.settings.width, spec.settings.height);
            let mut stmt = conn.prepare("SELECT task_id, data FROM results WHERE job_id = ?1 AND frame = ?2")?;
            let mut rows = stmt.query(rusqlite::params![key.job_id, key.frame])?;
            let mut count = 0i64;
            while let Some(row) = rows.next()? {
                let task_id: i64 = row.get(0)?;
                let bytes = row.get_ref(1)?.as_blob().map_err(|e| ApiError::internal(e.to_string()))?;
                let added = decode_result(bytes)
                    .map_err(|e| format!("stored result of task {task_id}: {e}"))
                    .and_then(|result| film.add(&result).map_err(|e| format!("result of task {task_id}: {e}")));
                if let Err(message) = added {
                    return Ok(Err(message));
                }
                count += 1;
            }
            if count != total {
                return Ok(Err(format!("{count} of {total} tile results are stored; cannot assemble")));
            }
            Ok(Ok((spec, film)))
        })
        .map_err(|e| format!("cannot read the frame's tile results: {e}"))??;
    if !film.is_complete() {
        return Err("the tile results leave pixels without samples".into());
    }
    let mut image = film.image();
    let noisy = if spec.denoise {
        let denoised = denoise::denoise(&image, DenoiseDevice::Cpu).map_err(|e| format!("denoising: {e}"))?;
        Some(std::mem::replace(&mut image.color, denoised))
    } else {
        None
    };
    let dir = job_dir(outputs, key.job_id);
    let mut names = Vec::new();
    for format in &spec.formats {
        let name = output_name(key.frame, format.extension());
        output::write_image(&dir.join(&name), &image, noisy.as_deref(), &spec.output).map_err(|e| e.to_string())?;
        names.push(name);
    }
    Ok(names)
}
