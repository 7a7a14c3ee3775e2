//! Hostile input through the real binary: every scene of the hostile corpus is
//! refused with a message naming the file and the field, under an address-space
//! cap (an allocation past it would abort the process, failing the test), with
//! no panic and nothing of the planted secret in the output. Also: the budget
//! check both ways, one decode per distinct image, `--allow-outside-paths`, and
//! the validation of numeric flags.

#[path = "common/hostile.rs"]
mod hostile;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hostile::{hostile_corpus, png_header, textured, Secret};
use serde_json::json;
use tessera::scene::{LoadOptions, Scene};

/// Address space each run may map: a small fraction of what the hostile files
/// ask for, and enough for the binary, its libraries and its threads.
const ADDRESS_SPACE: u64 = 1 << 30;
/// The `--memory-limit` the runs are given.
const MEMORY_LIMIT: &str = "256MiB";

/// Runs `tessera ARGS` under the address-space cap.
fn tessera(args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg(format!("--as={ADDRESS_SPACE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("prlimit (util-linux) runs the binary")
}

/// Checks a run that must fail: exit status 1 or 2 (not a signal), no panic,
/// and the error names each of `names`. Returns stderr.
fn refused(output: &Output, what: &str, names: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        matches!(output.status.code(), Some(1 | 2)),
        "{what}: expected a clean failure, got {:?} (a signal means an abort or a crash)\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{what}: panicked\n{stderr}");
    for name in names {
        assert!(stderr.contains(name), "{what}: the error does not name {name:?}\n{stderr}{stdout}");
    }
    stderr
}

fn render_args<'a>(scene: &'a str, out: &'a str) -> Vec<&'a str> {
    let quality = ["--backend", "cpu", "--width", "32", "--height", "24", "--spp", "1"];
    let mut args = vec!["render", scene, "-o", out, "--memory-limit", MEMORY_LIMIT];
    args.extend(quality);
    args
}

#[test]
fn every_hostile_scene_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let secret = Secret::plant(&dir.path().join("secret.txt"));
    let corpus = hostile_corpus(&dir.path().join("corpus"), &secret.path);
    assert!(corpus.len() >= 35, "{} cases", corpus.len());
    for case in &corpus {
        let scene = case.path.to_string_lossy().into_owned();
        let out = case.path.with_file_name("out.png").to_string_lossy().into_owned();
        let mut runs: Vec<(&str, Vec<String>)> = Vec::new();
        match &case.env {
            Some(env) => {
                let env = case.path.with_file_name(env).to_string_lossy().into_owned();
                let mut args: Vec<String> = render_args(&scene, &out).into_iter().map(String::from).collect();
                args.extend(["--env".into(), env]);
                runs.push(("render", args));
            }
            None => {
                runs.push(("render", render_args(&scene, &out).into_iter().map(String::from).collect()));
                let info = ["info", scene.as_str(), "--memory-limit", MEMORY_LIMIT];
                runs.push(("info", info.into_iter().map(String::from).collect()));
            }
        }
        for (command, args) in runs {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let what = format!("{} ({command})", case.name);
            let file = match &case.env {
                Some(env) => env.to_string_lossy().into_owned(),
                None => "scene.gltf".into(),
            };
            let stderr = refused(&tessera(&args), &what, &[&file, &case.field]);
            assert!(secret.leaked_in(&stderr).is_none(), "{what}: leaks {:?}\n{stderr}", secret.leaked_in(&stderr));
            assert!(!Path::new(&out).exists(), "{what}: wrote an image");
        }
    }
}

/// The quad with a 64×64 texture: what it charges is known only by loading it.
fn textured_scene(dir: &Path) -> PathBuf {
    image::RgbaImage::from_pixel(64, 64, image::Rgba([200, 100, 50, 255])).save(dir.join("tex.png")).unwrap();
    let path = dir.join("scene.gltf");
    std::fs::write(&path, serde_json::to_vec(&textured("tex.png")).unwrap()).unwrap();
    path
}

#[test]
fn the_budget_is_exact_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let path = textured_scene(dir.path());
    let needed = Scene::load(&path).unwrap().memory_bytes;
    assert!(needed > 64 * 64 * 4, "the texture is charged: {needed}");
    let within = |memory_limit: u64| Scene::load_with(&path, &LoadOptions { memory_limit, ..LoadOptions::default() });
    assert_eq!(within(needed).unwrap().memory_bytes, needed);
    let message = within(needed - 1).map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("over the memory budget of"), "{message}");

    // The same boundary through the command line.
    let scene = path.to_string_lossy();
    let info = |limit: u64| tessera(&["info", &scene, "--memory-limit", &limit.to_string()]);
    let ok = info(needed);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    refused(&info(needed - 1), "one byte short", &["scene.gltf", "over the memory budget of"]);
}

#[test]
fn an_image_used_by_twelve_textures_is_decoded_once() {
    let dir = tempfile::tempdir().unwrap();
    // 4096² grey: a small file that decodes to 64 MiB of RGBA texels.
    image::GrayImage::from_pixel(4096, 4096, image::Luma([128])).save(dir.path().join("big.png")).unwrap();
    let mut doc = textured("big.png");
    doc["images"] = json!(vec![json!({ "uri": "big.png" }); 12]);
    doc["textures"] = json!((0..12).map(|i| json!({ "source": i })).collect::<Vec<_>>());
    doc["materials"] = json!((0..12)
        .map(|i| json!({ "pbrMetallicRoughness": { "baseColorTexture": { "index": i } } }))
        .collect::<Vec<_>>());
    let path = dir.path().join("scene.gltf");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();

    let scene = Scene::load(&path).unwrap();
    assert_eq!((scene.images.len(), scene.textures.len()), (1, 12));
    // One decode fits in 320 MiB; twelve would need more than 1.5 GiB.
    let output = tessera(&["info", &path.to_string_lossy(), "--memory-limit", "320MiB"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("(1 images, 64.0 MiB of texels)"), "{stdout}");
}

#[test]
fn allow_outside_paths_reaches_out_locally_but_never_into_devices() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("scene");
    std::fs::create_dir(&folder).unwrap();
    let mut doc = hostile::quad();
    let data = doc["buffers"][0]["uri"].as_str().unwrap().split_once(',').unwrap().1.to_string();
    let bin = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
    std::fs::write(dir.path().join("mesh.bin"), bin).unwrap();
    doc["buffers"][0]["uri"] = json!("../mesh.bin");
    let path = folder.join("scene.gltf");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let scene = path.to_string_lossy();

    let confined = tessera(&["info", &scene]);
    refused(&confined, "confined", &["scene.gltf", "buffers[0].uri", "\"../mesh.bin\"", "outside the scene's folder"]);
    let allowed = tessera(&["info", &scene, "--allow-outside-paths"]);
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    assert!(String::from_utf8_lossy(&allowed.stdout).contains("2 rendered"));

    std::os::unix::fs::symlink("/dev/zero", folder.join("zero.bin")).unwrap();
    doc["buffers"][0]["uri"] = json!("zero.bin");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let device = tessera(&["info", &scene, "--allow-outside-paths"]);
    refused(&device, "device", &["scene.gltf", "buffers[0].uri", "not a regular file"]);
}

#[test]
fn numeric_flags_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let path = textured_scene(dir.path());
    let scene = path.to_string_lossy().into_owned();
    let out = dir.path().join("out.png").to_string_lossy().into_owned();
    for (flag, value) in [
        ("--exposure", "NaN"),
        ("--exposure", "inf"),
        ("--exposure", "1000"),
        ("--width", "0"),
        ("--height", "100000"),
        ("--spp", "0"),
        ("--max-depth", "0"),
        ("--tile", "0"),
        ("--threads", "0"),
        ("--env", "nan"),
        ("--env", "1,-1,0"),
        ("--env", "inf"),
        ("--memory-limit", "0"),
        ("--memory-limit", "12MB"),
        ("--fps", "0"),
        ("--fps", "NaN"),
    ] {
        let mut args = render_args(&scene, &out);
        args.extend([flag, value]);
        refused(&tessera(&args), &format!("{flag} {value}"), &[flag.trim_start_matches('-')]);
    }
    // `submit` parses its flags the same way, before it reaches for a coordinator.
    for (flag, value) in [("--exposure", "NaN"), ("--tile", "0"), ("--samples-per-task", "0"), ("--priority", "5000")] {
        let args = ["submit", &scene, "--coordinator", "http://127.0.0.1:9", flag, value];
        refused(&tessera(&args), &format!("submit {flag} {value}"), &[flag.trim_start_matches('-')]);
    }
    // Within the side limit, but the film does not fit the budget.
    let args = ["render", &scene, "-o", &out, "--width", "16384", "--height", "16384", "--memory-limit", "1GiB"];
    refused(&tessera(&args), "16384² film", &["16384x16384 film takes", "over the memory budget of 1.0 GiB"]);
    assert!(!Path::new(&out).exists());
}

#[test]
fn exr_inputs_are_sized_from_their_headers() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.exr");
    std::fs::write(&huge, hostile::exr_header(100_000, 100_000)).unwrap();
    let out = dir.path().join("clean.png");
    let output = tessera(&["denoise", &huge.to_string_lossy(), "-o", &out.to_string_lossy()]);
    refused(&output, "denoise", &["huge.exr", "100000×100000", "over the memory budget"]);
    // A PNG header alone, as an environment map, is refused for its format.
    let png = dir.path().join("sky.png");
    std::fs::write(&png, png_header(4, 4)).unwrap();
    let (scene, png) = (textured_scene(dir.path()).to_string_lossy().into_owned(), png.to_string_lossy().into_owned());
    let mut args = render_args(&scene, "unused.png");
    args.extend(["--env", &png]);
    refused(&tessera(&args), "png env", &["sky.png", "unsupported format"]);
}
