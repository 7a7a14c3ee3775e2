//! Preview movies: a numbered PNG sequence encoded to an H.264 MP4 by the `ffmpeg`
//! program (`TESSERA_FFMPEG` names another). Frames are fed to it through a pipe,
//! in order, so any frame numbers, steps and file names work and nothing of the
//! names reaches its command line.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::frame_path;
use crate::render::settings::FrameRange;

/// Why a movie cannot be made; each names the file or program at fault.
#[derive(Debug, thiserror::Error)]
pub enum MovieError {
    #[error("{0}: a frame sequence names the frame number with a run of '#' (e.g. shot_####.png)")]
    NoNumber(String),
    #[error("{0}: movies are made from PNG frames (the tone-mapped images; EXR frames are linear)")]
    NotPng(String),
    #[error("{0}: no frames match")]
    NoFrames(String),
    #[error("frame {frame} ({path}) is missing from the sequence {range}")]
    Missing { frame: u32, path: String, range: String },
    #[error("{path}: {message}")]
    Frame { path: String, message: String },
    #[error("{path} is {width}x{height}, but the sequence's first frame is {first_width}x{first_height}")]
    Size { path: String, width: u32, height: u32, first_width: u32, first_height: u32 },
    #[error(
        "encoding a movie needs the ffmpeg program, and {program} cannot be run ({reason}); \
         install it (Debian: apt install ffmpeg) or name it with TESSERA_FFMPEG"
    )]
    NoFfmpeg { program: String, reason: String },
    #[error("{program} failed making {path}: {message}")]
    Ffmpeg { program: String, path: String, message: String },
}

/// A frame sequence on disk, every frame checked to exist at one size.
#[derive(Debug)]
pub struct Sequence {
    pub frames: Vec<(u32, PathBuf)>,
    pub width: u32,
    pub height: u32,
}

impl Sequence {
    /// The frames of `pattern` (a PNG name with a run of '#'): those of `range`,
    /// or without one every frame from the lowest number found to the highest.
    /// A frame of the range that is not there is an error naming it.
    pub fn find(pattern: &Path, range: Option<FrameRange>) -> Result<Sequence, MovieError> {
        let shown = pattern.display().to_string();
        let is_png = pattern.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        if !is_png {
            return Err(MovieError::NotPng(shown));
        }
        let path_of = |frame: u32| frame_path(pattern, frame).ok_or_else(|| MovieError::NoNumber(shown.clone()));
        path_of(0)?;
        let range = match range {
            Some(range) => range,
            None => {
                let found = numbers_on_disk(pattern);
                let (Some(&first), Some(&last)) = (found.iter().min(), found.iter().max()) else {
                    return Err(MovieError::NoFrames(shown));
                };
                FrameRange { first, last, step: 1 }
            }
        };
        let mut frames = Vec::new();
        let mut size = None;
        for frame in range.iter() {
            let path = path_of(frame)?;
            let shown = path.display().to_string();
            if !path.is_file() {
                return Err(MovieError::Missing { frame, path: shown, range: range.to_string() });
            }
            let (width, height) = image::image_dimensions(&path)
                .map_err(|e| MovieError::Frame { path: shown.clone(), message: e.to_string() })?;
            let (first_width, first_height) = *size.get_or_insert((width, height));
            if (width, height) != (first_width, first_height) {
                return Err(MovieError::Size { path: shown, width, height, first_width, first_height });
            }
            frames.push((frame, path));
        }
        let (width, height) = size.ok_or(MovieError::NoFrames(shown))?;
        Ok(Sequence { frames, width, height })
    }

    /// Encodes the frames, `fps` per second, to an H.264 MP4 at `output`
    /// (yuv420p, so that every player shows it; odd sides are padded by one).
    pub fn encode(&self, output: &Path, fps: f32) -> Result<(), MovieError> {
        let program = std::env::var_os("TESSERA_FFMPEG").unwrap_or_else(|| "ffmpeg".into());
        let shown_program = program.to_string_lossy().into_owned();
        let shown_output = output.display().to_string();
        // "file:" keeps ffmpeg from reading the name as an option or another protocol.
        let mut target = OsString::from("file:");
        target.push(output);
        let mut child = Command::new(&program)
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
            .args(["-f", "image2pipe", "-c:v", "png", "-framerate", &fps.to_string(), "-i", "pipe:0"])
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .args(["-crf", "18", "-movflags", "+faststart", "-f", "mp4"])
            .arg(target)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| MovieError::NoFfmpeg { program: shown_program.clone(), reason: e.to_string() })?;
        // Read its messages beside the writes, so that neither side blocks on a full pipe.
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let messages = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut fed = Ok(());
        for (_, path) in &self.frames {
            let bytes = std::fs::read(path)
                .map_err(|e| MovieError::Frame { path: path.display().to_string(), message: e.to_string() })?;
            if let Err(e) = stdin.write_all(&bytes) {
                fed = Err(e);
                break;
            }
        }
        drop(stdin);
        let status = child.wait().map_err(|e| MovieError::Ffmpeg {
            program: shown_program.clone(),
            path: shown_output.clone(),
            message: e.to_string(),
        })?;
        let messages = messages.join().unwrap_or_default();
        if !status.success() || fed.is_err() {
            let last: Vec<&str> = messages.lines().rev().take(4).collect();
            let mut message = last.into_iter().rev().collect::<Vec<_>>().join("; ");
            if message.is_empty() {
                message = fed.err().map_or_else(|| status.to_string(), |e| e.to_string());
            }
            return Err(MovieError::Ffmpeg { program: shown_program, path: shown_output, message });
        }
        Ok(())
    }
}

/// The frame numbers of the files in `pattern`'s folder that match it: its text
/// before and after the run of '#', with digits (at least as many as '#') between.
fn numbers_on_disk(pattern: &Path) -> Vec<u32> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else { return Vec::new() };
    let Some(end) = name.rfind('#').map(|i| i + 1) else { return Vec::new() };
    let start = name[..end].trim_end_matches('#').len();
    let (prefix, suffix, width) = (&name[..start], &name[end..], end - start);
    let dir = match pattern.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|file| {
            let digits = file.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let numbered = digits.len() >= width && digits.bytes().all(|b| b.is_ascii_digit());
            numbered.then(|| digits.parse().ok()).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_by_the_pattern_around_the_hashes() {
        let dir = tempfile::tempdir().unwrap();
        for name in
            ["shot_0001.png", "shot_0012.png", "shot_12345.png", "shot_001.png", "shot_0002.exr", "take_0003.png"]
        {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let mut found = numbers_on_disk(&dir.path().join("shot_####.png"));
        found.sort();
        assert_eq!(found, [1, 12, 12345]);
    }
}
