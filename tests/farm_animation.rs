//! Animated sequences: a farm job of four motion-blurred frames (every second frame
//! of 1-7), each rendered at its own time by three workers, against `tessera render
//! --frames` on one machine; its preview movie, encoded on the coordinator, read
//! back by ffprobe.

mod common;
mod farm_support;

use std::time::Duration;

use farm_support::*;
use tessera::farm::protocol::{JobState, PreviewStatus};
use tessera::output::read_exr;

#[test]
fn an_animated_farm_job_matches_the_local_sequence_frame_for_frame() {
    let scene = common::shared_scene("BoxAnimated");
    let mut farm = Farm::start(&["--lease", "10s", "--heartbeat", "500ms"]);
    for _ in 0..3 {
        farm.add_worker(&[]);
    }
    farm.wait_workers(3);
    let mut cmd = farm.client(&farm.admin);
    cmd.arg("submit").arg(&scene).args(QUALITY).args([
        "--frames",
        "1-7x2",
        "--tile",
        "16",
        "--format",
        "exr",
        "--preview-movie",
        "--motion-blur",
        "--shutter",
        "0.5",
    ]);
    let out = run(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "submit failed: {}", String::from_utf8_lossy(&out.stderr));
    let job: i64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();

    let local = farm.dir.path().join("local");
    let pattern = local.join("box_####.exr");
    let render = |extra: &[&str]| {
        let mut cmd = tessera();
        cmd.arg("render").arg(&scene).args(QUALITY).args(["--frames", "1-7x2", "--backend", "cpu", "-o"]).arg(&pattern);
        cmd.args(["--motion-blur", "--shutter", "0.5"]);
        cmd.args(extra);
        let out = run(cmd, Duration::from_secs(120));
        assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    render(&[]);

    let done = farm.wait_status(job, Duration::from_secs(180), "the job to finish", |s| s.state.is_finished());
    assert_eq!(done.state, JobState::Done, "{}", farm.logs());
    let movie = farm.wait_status(job, Duration::from_secs(60), "the preview movie", |s| {
        s.preview.as_ref().is_some_and(|p| *p != PreviewStatus::Waiting)
    });
    let farm_dir = farm.download(job);
    check_preview(movie.preview.unwrap(), &farm_dir.join("preview.mp4"));
    let frame = |dir: &std::path::Path, name: String| bits(&read_exr(&dir.join(name)).unwrap());
    for f in [1, 3, 5, 7] {
        let (remote, here) = (frame(&farm_dir, format!("frame_{f:04}.exr")), frame(&local, format!("box_{f:04}.exr")));
        assert!(remote == here, "frame {f}: the farm's image differs from `tessera render --frames`");
    }
    assert!(!local.join("box_0002.exr").exists(), "the step of 2 rendered frame 2");
    assert!(frame(&local, "box_0001.exr".into()) != frame(&local, "box_0007.exr".into()), "frames 1 and 7 are alike");

    // Resuming: only the missing frame is rendered again, to the same bits.
    let before = frame(&local, "box_0005.exr".into());
    std::fs::remove_file(local.join("box_0005.exr")).unwrap();
    let log = render(&["--skip-existing"]);
    assert!(log.contains("1 frames rendered, 3 already there"), "{log}");
    assert!(frame(&local, "box_0005.exr".into()) == before, "the re-rendered frame 5 differs");
}

/// The movie holds the job's four frames at its size, when ffmpeg is there to make
/// it (scripts/test.sh installs it and sets TESSERA_REQUIRE_FFMPEG); without ffmpeg
/// the job says why it has no movie.
fn check_preview(preview: PreviewStatus, movie: &std::path::Path) {
    let ffmpeg = std::process::Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !ffmpeg && std::env::var_os("TESSERA_REQUIRE_FFMPEG").is_none() {
        let PreviewStatus::Failed(why) = preview else { panic!("a movie without ffmpeg: {preview:?}") };
        assert!(why.contains("ffmpeg"), "{why}");
        return eprintln!("preview movie: ffmpeg is not installed, so only its absence was checked");
    }
    assert_eq!(preview, PreviewStatus::Done);
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0"])
        .arg(movie)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "64,48,4", "width, height and frames of the movie");
}
