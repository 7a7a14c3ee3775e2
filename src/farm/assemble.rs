//! Frame assembly: once every tile of a frame is in, its results go through a
//! [`Film`], the full frame is denoised once if the job asks, and the images
//! are written to `DATA/outputs/JOB/frame_NNNN.{exr,png}`. Only after the files
//! are on disk is the frame recorded as done and its tile results dropped; a
//! coordinator killed in between assembles the frame again on restart.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
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

/// Starts the assembler thread; it runs until `frames` is closed.
pub fn spawn(
    frames: Receiver<FrameKey>,
    reads: ReadPool,
    writer: Writer<SchedState>,
    outputs: PathBuf,
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
            }
        })
        .expect("spawn the assembler thread")
}

/// Assembles one frame; returns the names of the files written.
fn assemble(reads: &ReadPool, outputs: &Path, key: FrameKey) -> Result<Vec<String>, String> {
    let (spec, tasks_total, results) = reads
        .read_blocking(|conn| {
            let (spec, total): (String, i64) = conn.query_row(
                "SELECT j.spec, f.tasks_total FROM jobs j JOIN frames f ON f.job_id = j.id
                 WHERE j.id = ?1 AND f.frame = ?2",
                rusqlite::params![key.job_id, key.frame],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let results: Vec<(i64, Vec<u8>)> = conn
                .prepare("SELECT task_id, data FROM results WHERE job_id = ?1 AND frame = ?2 ORDER BY task_id")?
                .query_map(rusqlite::params![key.job_id, key.frame], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok::<_, ApiError>((spec, total, results))
        })
        .map_err(|e| format!("cannot read the frame's tile results: {e}"))?;
    let spec: JobSpec = serde_json::from_str(&spec).map_err(|e| format!("stored job spec: {e}"))?;
    if results.len() as i64 != tasks_total {
        return Err(format!("{} of {tasks_total} tile results are stored; cannot assemble", results.len()));
    }
    let mut film = Film::new(spec.settings.width, spec.settings.height);
    for (task_id, bytes) in &results {
        let result = decode_result(bytes).map_err(|e| format!("stored result of task {task_id}: {e}"))?;
        film.add(&result).map_err(|e| format!("result of task {task_id}: {e}"))?;
    }
    drop(results);
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
