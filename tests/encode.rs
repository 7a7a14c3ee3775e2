//! `tessera encode`: a numbered PNG sequence made into an H.264 MP4 by ffmpeg and
//! read back with ffprobe; a missing frame or a missing ffmpeg is a clear error.

use std::path::Path;
use std::process::{Command, Output};

fn tessera(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).current_dir(dir).output().unwrap()
}

/// Whether ffmpeg and ffprobe can run here. scripts/test.sh installs them and sets
/// TESSERA_REQUIRE_FFMPEG, so that these tests cannot skip in CI.
fn have_ffmpeg(test: &str) -> bool {
    let runs = |p: &str| Command::new(p).arg("-version").output().is_ok_and(|o| o.status.success());
    let have = runs("ffmpeg") && runs("ffprobe");
    if !have && std::env::var_os("TESSERA_REQUIRE_FFMPEG").is_some() {
        panic!("{test}: TESSERA_REQUIRE_FFMPEG is set but ffmpeg or ffprobe cannot run");
    }
    if !have {
        eprintln!("{test}: skipped, ffmpeg and ffprobe are not installed");
    }
    have
}

/// Writes frames `numbers` of `shot_####.png`, each `width`x`height` in its own grey.
fn write_frames(dir: &Path, numbers: impl IntoIterator<Item = u32>, width: u32, height: u32) {
    for n in numbers {
        let grey = (n * 40 % 256) as u8;
        image::RgbImage::from_pixel(width, height, image::Rgb([grey, 255 - grey, 128]))
            .save(dir.join(format!("shot_{n:04}.png")))
            .unwrap();
    }
}

/// (codec, width, height, frames counted by decoding) of the movie's video stream.
fn probe(movie: &Path) -> (String, u32, u32, u32) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "default=noprint_wrappers=1"])
        .arg(movie)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |key: &str| {
        let line = text.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("{text}"));
        line.trim().to_string()
    };
    let number = |key: &str| field(key).parse::<u32>().unwrap();
    (field("codec_name"), number("width"), number("height"), number("nb_read_frames"))
}

#[test]
fn a_sequence_becomes_an_mp4_of_its_frames_and_size() {
    if !have_ffmpeg("a_sequence_becomes_an_mp4_of_its_frames_and_size") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_frames(dir.path(), 1..=5, 64, 36);
    let out = tessera(&["encode", "shot_####.png", "-o", "shot.mp4", "--fps", "24"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(probe(&dir.path().join("shot.mp4")), ("h264".into(), 64, 36, 5));

    // A step takes every second frame.
    let out = tessera(&["encode", "shot_####.png", "-o", "odd.mp4", "--frames", "1-5x2"], dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(probe(&dir.path().join("odd.mp4")).3, 3);
}

#[test]
fn a_missing_frame_is_refused_by_name() {
    if !have_ffmpeg("a_missing_frame_is_refused_by_name") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_frames(dir.path(), [1, 2, 4], 32, 32);
    let out = tessera(&["encode", "shot_####.png", "-o", "shot.mp4"], dir.path());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(message.contains("frame 3") && message.contains("shot_0003.png"), "{message}");
    assert!(!dir.path().join("shot.mp4").exists(), "a movie with a hole was written");

    write_frames(dir.path(), [3], 16, 16);
    let out = tessera(&["encode", "shot_####.png", "-o", "shot.mp4"], dir.path());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("shot_0003.png is 16x16") && message.contains("32x32"), "{message}");
}

#[test]
fn without_ffmpeg_the_error_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    write_frames(dir.path(), [1], 8, 8);
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["encode", "shot_####.png", "-o", "shot.mp4"])
        .env("TESSERA_FFMPEG", dir.path().join("no-ffmpeg-here"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(message.contains("needs the ffmpeg program") && message.contains("apt install ffmpeg"), "{message}");
}
