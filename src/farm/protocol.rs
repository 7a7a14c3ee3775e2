//! What coordinator, workers and clients say to each other: JSON request and
//! response bodies, and the binary upload format of a `TileResult`.
//!
//! # Tile result upload format (version 1)
//!
//! Little-endian throughout:
//!
//! | offset | size | field |
//! |--------|------|-------|
//! | 0  | 4  | magic `TSTR` |
//! | 4  | 4  | format version (1) |
//! | 8  | 4  | frame |
//! | 12 | 16 | tile x, y, width, height |
//! | 28 | 8  | sample range start, end |
//! | 36 | 8  | rays traced |
//! | 44 | 4  | pixel count (must equal width × height) |
//! | 48 | 64 × count | [`PixelSums`], row-major, each as 16 little-endian 32-bit words |
//! | end − 32 | 32 | SHA-256 of every byte before it |
//!
//! The checksum covers the header too, so a result can never be filed under the
//! wrong tile by a flipped bit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::{BackendInfo, Probe};
use crate::output::OutputOptions;
use crate::render::settings::RenderSettings;
use crate::render::task::{PixelSums, RenderTask, SampleRange, Tile, TileResult};

/// Version prefix of every API route.
pub const API: &str = "/api/v1";

/// A file of a scene bundle: its path inside the bundle ('/'-separated,
/// relative), its SHA-256 (lowercase hex) and its size in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// A scene as a set of content-addressed files: `root` is the path of the
/// `.gltf`/`.glb` among `files`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneManifest {
    pub root: String,
    pub files: Vec<BundleFile>,
}

impl SceneManifest {
    /// A stable identity of the whole bundle (SHA-256 over root and sorted files),
    /// used by workers to name their local copy.
    pub fn id(&self) -> String {
        let mut files: Vec<&BundleFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut hash = Sha256::new();
        hash.update(self.root.as_bytes());
        for f in files {
            hash.update([0]);
            hash.update(f.path.as_bytes());
            hash.update([0]);
            hash.update(f.sha256.as_bytes());
        }
        hex::encode(hash.finalize())
    }
}

/// Image formats a job writes for each frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Exr,
    Png,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Exr => "exr",
            OutputFormat::Png => "png",
        }
    }
}

pub use crate::render::settings::FrameRange;

/// What `tessera submit` asks the coordinator to render.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    /// The project the job belongs to; omitted: the submitter's only project
    /// (or "default" when they are a member of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub scene: SceneManifest,
    /// Render settings; an environment map path names a file of `scene`.
    pub settings: RenderSettings,
    pub frames: FrameRange,
    /// Tile size in pixels (square tiles, smaller at the right and bottom edges).
    pub tile: u32,
    /// Samples per task; `settings.spp` renders each tile in one task.
    pub samples_per_task: u32,
    /// Higher runs first; jobs of equal priority run in submission order.
    pub priority: i32,
    /// Denoise each assembled frame (once, on the full frame).
    pub denoise: bool,
    pub formats: Vec<OutputFormat>,
    /// Exposure and view transform of PNG outputs.
    pub output: OutputOptions,
    /// Encode the finished PNG frames into an MP4 preview (needs the png format).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview_movie: bool,
}

/// Reply to a job submission.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitResponse {
    pub job_id: i64,
    pub tasks: u64,
}

/// The state a job is in. `Active` jobs hand out tasks; `Paused` ones keep their
/// queue but hand out nothing new; the rest are finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Active,
    Paused,
    Cancelled,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Active => "active",
            JobState::Paused => "paused",
            JobState::Cancelled => "cancelled",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => JobState::Active,
            "paused" => JobState::Paused,
            "cancelled" => JobState::Cancelled,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
    /// Whether the job will change no more without a `retry`.
    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Cancelled | JobState::Done | JobState::Failed)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Task counts by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    pub total: u64,
    pub queued: u64,
    pub leased: u64,
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// One frame of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameStatus {
    pub frame: u32,
    /// rendering | assembling | done | failed
    pub state: String,
    pub tasks_total: u64,
    pub tasks_done: u64,
    /// Output file names, downloadable from `/jobs/{id}/outputs/{name}`.
    pub outputs: Vec<String>,
    pub error: Option<String>,
}

/// One task of a job (with `?tasks=true`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub id: i64,
    pub frame: u32,
    pub tile: Tile,
    pub samples: SampleRange,
    /// queued | leased | done | failed | cancelled
    pub state: String,
    /// Leases granted for this task so far (renders started).
    pub attempts: u32,
    /// Failed attempts since the last retry.
    pub failures: u32,
    pub worker: Option<i64>,
    pub last_error: Option<String>,
}

/// A failed attempt, kept for the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    pub task_id: i64,
    pub frame: u32,
    pub worker: Option<i64>,
    pub attempt: u32,
    pub message: String,
    pub at_ms: i64,
}

/// `GET /jobs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub id: i64,
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub project: String,
    pub state: JobState,
    pub priority: i32,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub tasks: TaskCounts,
    /// Frames of the job; `frames` lists those that have started.
    #[serde(default)]
    pub frames_total: u64,
    pub frames: Vec<FrameStatus>,
    /// Workers blocklisted for this job after repeated failures.
    pub blocklisted_workers: Vec<i64>,
    /// The most recent failed attempts (newest first).
    pub errors: Vec<TaskError>,
    /// Why the job failed as a whole, when it did (e.g. every worker blocklisted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The preview movie of a job that asked for one: waiting for the frames, done
    /// (downloadable as the output `preview.mp4`) or failed (with why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewStatus>,
    /// Present with `?tasks=true`: a page of tasks in id order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_list: Option<Vec<TaskStatus>>,
    /// With `?tasks=true`, when more tasks follow: pass as `task_after` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_next: Option<i64>,
}

/// Where a job's preview movie stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "error")]
pub enum PreviewStatus {
    Waiting,
    Done,
    Failed(String),
}

/// One page of a listing. `next`, when present, is passed back as `?after=`
/// for the following page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows: the extra row only says that more follow.
    pub fn cut(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> i64) -> Self {
        let next = match items.len() as i64 > limit {
            true => {
                items.truncate(limit as usize);
                items.last().map(key)
            }
            false => None,
        };
        Page { items, next }
    }
}

/// `?limit=&after=` of a listing.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub after: Option<i64>,
}

impl PageQuery {
    /// Longest page.
    pub const MAX: u32 = 1000;

    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, Self::MAX) as i64
    }
}

/// `GET /jobs`: one line per job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: i64,
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub project: String,
    pub state: JobState,
    pub priority: i32,
    pub created_ms: i64,
    pub tasks: TaskCounts,
    pub frames_total: u64,
    pub frames_done: u64,
}

/// What a worker offers, sent when it registers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    pub name: String,
    pub version: String,
    /// The backend this worker renders with.
    pub backend: BackendInfo,
    /// Every backend probed on the machine, with devices or why unavailable.
    pub probes: Vec<Probe>,
    pub memory_bytes: u64,
    pub cpu_threads: u32,
    /// Quick benchmark (built-in Cornell box): samples/s, 0 when skipped.
    pub bench_samples_per_second: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub worker_id: i64,
    /// This worker's own credential: every later request of the worker sends it.
    pub credential: String,
    /// How often to heartbeat a lease.
    pub heartbeat_ms: u64,
    /// How long a lease lives without a heartbeat.
    pub lease_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// How long to wait for work before answering 204 (long poll), capped by the coordinator.
    pub wait_ms: u64,
}

/// A scene the worker will probably need next, to fetch while it renders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prefetch {
    pub job_id: i64,
    pub scene: SceneManifest,
}

/// A task handed to a worker, valid while the worker heartbeats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub lease_id: i64,
    pub task_id: i64,
    pub job_id: i64,
    /// 1 for the first lease of the task.
    pub attempt: u32,
    pub task: RenderTask,
    pub settings: RenderSettings,
    pub scene: SceneManifest,
    pub heartbeat_ms: u64,
    pub lease_ms: u64,
    pub prefetch: Option<Prefetch>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Milliseconds the lease now has left.
    pub lease_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailRequest {
    pub error: String,
    /// Joules the attempt took, where the worker's hardware reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j: Option<f64>,
}

/// Header of a result upload: the joules the task took, where measured.
pub const ENERGY_HEADER: &str = "x-tessera-energy-joules";

/// An energy figure a worker reported, if it is one a task can take: finite,
/// non-negative and under a megawatt-hour.
pub fn check_energy(joules: f64) -> Option<f64> {
    (joules.is_finite() && (0.0..3.6e9).contains(&joules)).then_some(joules)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MissingRequest {
    pub hashes: Vec<String>,
    /// The project the files are for (as in [`JobSpec::project`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MissingResponse {
    pub missing: Vec<String>,
}

/// Every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `lease_lost`, `bad_checksum`.
    pub code: String,
    pub message: String,
}

/// Whether `s` is a SHA-256 in lowercase hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

const MAGIC: &[u8; 4] = b"TSTR";
const VERSION: u32 = 1;
const HEADER: usize = 48;
const CHECKSUM: usize = 32;
const PIXEL_BYTES: usize = std::mem::size_of::<PixelSums>();

/// Bytes of an encoded result with `pixels` pixels.
pub fn encoded_len(pixels: usize) -> usize {
    HEADER + pixels * PIXEL_BYTES + CHECKSUM
}

/// Why an uploaded tile result was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ResultFormatError {
    #[error("tile result is {0} bytes, shorter than the {min}-byte header and checksum", min = HEADER + CHECKSUM)]
    TooShort(usize),
    #[error("not a Tessera tile result (bad magic bytes)")]
    Magic,
    #[error("tile result format version {0} is not supported (expected {VERSION})")]
    Version(u32),
    #[error("tile result checksum mismatch: the upload is corrupt (SHA-256 {actual}, expected {expected})")]
    Checksum { expected: String, actual: String },
    #[error("tile result declares {count} pixels for a {width}x{height} tile")]
    PixelCount { count: u32, width: u32, height: u32 },
    #[error("tile result is {actual} bytes; {count} pixels need {expected}")]
    Length { actual: usize, expected: usize, count: u32 },
}

/// Encodes a result for upload (format above).
pub fn encode_result(result: &TileResult) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(result.pixels.len()));
    out.extend_from_slice(MAGIC);
    let t = result.tile;
    for word in [VERSION, result.frame, t.x, t.y, t.width, t.height, result.samples.start, result.samples.end] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&result.rays.to_le_bytes());
    out.extend_from_slice(&(result.pixels.len() as u32).to_le_bytes());
    for word in bytemuck::cast_slice::<PixelSums, u32>(&result.pixels) {
        out.extend_from_slice(&word.to_le_bytes());
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Decodes and verifies an uploaded result.
pub fn decode_result(bytes: &[u8]) -> Result<TileResult, ResultFormatError> {
    if bytes.len() < HEADER + CHECKSUM {
        return Err(ResultFormatError::TooShort(bytes.len()));
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
    let actual = Sha256::digest(body);
    if actual.as_slice() != sum {
        return Err(ResultFormatError::Checksum { expected: hex::encode(sum), actual: hex::encode(actual) });
    }
    if &body[..4] != MAGIC {
        return Err(ResultFormatError::Magic);
    }
    let word = |i: usize| u32::from_le_bytes(body[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    if word(1) != VERSION {
        return Err(ResultFormatError::Version(word(1)));
    }
    let tile = Tile { x: word(3), y: word(4), width: word(5), height: word(6) };
    let samples = SampleRange { start: word(7), end: word(8) };
    let rays = u64::from_le_bytes(body[36..44].try_into().expect("8 bytes"));
    let count = word(11);
    if count as u64 != tile.width as u64 * tile.height as u64 {
        return Err(ResultFormatError::PixelCount { count, width: tile.width, height: tile.height });
    }
    let expected = encoded_len(count as usize);
    if bytes.len() != expected {
        return Err(ResultFormatError::Length { actual: bytes.len(), expected, count });
    }
    let pixels = body[HEADER..]
        .chunks_exact(PIXEL_BYTES)
        .map(|p| {
            let words: [u32; 16] =
                std::array::from_fn(|i| u32::from_le_bytes(p[4 * i..4 * i + 4].try_into().expect("4 bytes")));
            bytemuck::cast(words)
        })
        .collect();
    Ok(TileResult { frame: word(2), tile, samples, pixels, rays })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_result() -> TileResult {
        let tile = Tile { x: 16, y: 32, width: 3, height: 2 };
        let pixels = (0..6)
            .map(|i| PixelSums {
                radiance: [i as f32, 0.5, -1.25],
                count: 7,
                radiance_sq: [1.0, 2.0, 3.0],
                depth: 4.5,
                albedo: [0.1, 0.2, 0.3],
                alpha: 6.0,
                normal: [0.0, 1.0, 0.0],
                _pad: 0.0,
            })
            .collect();
        TileResult { frame: 9, tile, samples: SampleRange { start: 4, end: 11 }, pixels, rays: 123_456_789_012 }
    }

    #[test]
    fn results_round_trip_bit_exactly() {
        let result = sample_result();
        let bytes = encode_result(&result);
        assert_eq!(bytes.len(), encoded_len(6));
        assert_eq!(decode_result(&bytes).unwrap(), result);
    }

    #[test]
    fn any_flipped_bit_is_caught() {
        let bytes = encode_result(&sample_result());
        for at in [0, 9, 20, 47, 48, 200, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(
                matches!(decode_result(&bad), Err(ResultFormatError::Checksum { .. })),
                "flipped byte {at} not detected"
            );
        }
        assert_eq!(decode_result(&bytes[..50]), Err(ResultFormatError::TooShort(50)));
        let truncated = &bytes[..bytes.len() - 64];
        assert!(matches!(decode_result(truncated), Err(ResultFormatError::Checksum { .. })));
    }

    #[test]
    fn a_consistent_but_wrong_pixel_count_is_refused() {
        let mut result = sample_result();
        result.pixels.pop();
        let bytes = encode_result(&result);
        assert_eq!(decode_result(&bytes), Err(ResultFormatError::PixelCount { count: 5, width: 3, height: 2 }));
    }

    #[test]
    fn manifest_id_ignores_file_order() {
        let f = |p: &str, h: char| BundleFile { path: p.into(), sha256: h.to_string().repeat(64), size: 1 };
        let a = SceneManifest { root: "a.gltf".into(), files: vec![f("a.gltf", 'a'), f("b.bin", 'b')] };
        let b = SceneManifest { root: "a.gltf".into(), files: vec![f("b.bin", 'b'), f("a.gltf", 'a')] };
        let c = SceneManifest { root: "a.gltf".into(), files: vec![f("b.bin", 'c'), f("a.gltf", 'a')] };
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), c.id());
        assert!(is_sha256_hex(&a.id()));
    }
}
