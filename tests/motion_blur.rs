//! Motion blur on the CPU reference: an emissive square sliding over black keeps
//! its energy and streaks by velocity × shutter; a spinning one blurs along its
//! circle once motion steps are added; a still scene, or a shutter of 0, renders
//! the same bits as without blur; tiles combine exactly.

#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use std::path::{Path, PathBuf};

use gltf_builder::Doc;
use serde_json::json;
use tessera::backend::{self, BackendKind, BackendOptions};
use tessera::render::film::FrameImage;
use tessera::render::frame::render_frame;
use tessera::render::settings::{prepare_frame, MotionBlur, RenderSettings, ShutterPosition};
use tessera::scene::Scene;

/// Pixels per scene unit of the orthographic cameras below (2·mag units over `SIDE` pixels).
const SIDE: u32 = 64;

/// A unit-emission square of side `size` in the XY plane, facing +Z, on node
/// `parent`'s child at `offset`; returns the document with an orthographic camera
/// of half-extent `mag` at +Z looking down -Z.
fn emissive_square(size: f32, offset: [f32; 3], mag: f32) -> Doc {
    let mut doc = Doc::new();
    let h = size / 2.0;
    let pos = doc.floats(&[-h, -h, 0.0, h, -h, 0.0, h, h, 0.0, -h, h, 0.0], "VEC3");
    let idx = doc.indices(&[0, 1, 2, 0, 2, 3]);
    doc.json["materials"] = json!([{
        "emissiveFactor": [1.0, 1.0, 1.0],
        "pbrMetallicRoughness": { "baseColorFactor": [0.0, 0.0, 0.0, 1.0] },
    }]);
    doc.json["meshes"] =
        json!([{ "primitives": [{ "attributes": { "POSITION": pos }, "indices": idx, "material": 0 }] }]);
    doc.json["cameras"] =
        json!([{ "type": "orthographic", "orthographic": { "xmag": mag, "ymag": mag, "znear": 0.01, "zfar": 100.0 } }]);
    doc.json["nodes"] = json!([
        { "children": [1] },
        { "mesh": 0, "translation": offset },
        { "camera": 0, "translation": [0.0, 0.0, 5.0] },
    ]);
    doc.json["scenes"] = json!([{ "nodes": [0, 2] }]);
    doc
}

/// Animates node 0's `path` through `values` (VEC3 or VEC4 per key) at `times`, LINEAR.
fn animate(doc: &mut Doc, path: &str, times: &[f32], values: &[f32], ty: &str) {
    animate_node(doc, 0, path, times, values, ty)
}

fn animate_node(doc: &mut Doc, node: usize, path: &str, times: &[f32], values: &[f32], ty: &str) {
    let input = doc.floats(times, "SCALAR");
    let output = doc.floats(values, ty);
    doc.json["animations"] = json!([{
        "samplers": [{ "input": input, "output": output, "interpolation": "LINEAR" }],
        "channels": [{ "sampler": 0, "target": { "node": node, "path": path } }],
    }]);
}

fn settings(side: u32, spp: u32, blur: Option<MotionBlur>) -> RenderSettings {
    RenderSettings { width: side, height: side, spp, max_depth: 2, motion_blur: blur, ..Default::default() }
}

fn blur(shutter: f32, position: ShutterPosition, steps: u32) -> Option<MotionBlur> {
    Some(MotionBlur { shutter, position, steps })
}

fn render_tiled(path: &Path, settings: &RenderSettings, frame: u32, tile: u32) -> FrameImage {
    let scene = Scene::load(path).unwrap_or_else(|e| panic!("{e}"));
    let flat = prepare_frame(&scene, None, settings, frame).unwrap_or_else(|e| panic!("{e}"));
    let (mut backend, _) = backend::create(BackendKind::Cpu, &BackendOptions { device: None, threads: None }).unwrap();
    backend.upload(&flat).unwrap();
    render_frame(backend.as_mut(), settings, frame, tile, &|_| true).unwrap().0.image()
}

fn render(path: &Path, settings: &RenderSettings, frame: u32) -> FrameImage {
    render_tiled(path, settings, frame, 64)
}

/// Red channel at pixel (x, y).
fn red(image: &FrameImage, x: u32, y: u32) -> f32 {
    image.color[(y * image.width + x) as usize][0]
}

fn sliding(dir: &Path) -> PathBuf {
    // Side 1 at 16 pixels per unit; 24 units per second, so half a frame's shutter
    // at 24 fps is 0.5 units: an 8-pixel streak. Frame 13 (0.5 s) is centred.
    let mut doc = emissive_square(1.0, [0.0; 3], 2.0);
    animate(&mut doc, "translation", &[0.0, 1.0], &[-12.0, 0.0, 0.0, 12.0, 0.0, 0.0], "VEC3");
    doc.write_embedded(dir, "sliding.gltf")
}

#[test]
fn a_sliding_square_keeps_its_energy_and_streaks_by_velocity_times_shutter() {
    let dir = tempfile::tempdir().unwrap();
    let path = sliding(dir.path());
    let still = render(&path, &settings(SIDE, 64, None), 13);
    let blurred = render(&path, &settings(SIDE, 64, blur(0.5, ShutterPosition::Center, 1)), 13);

    let mean = |i: &FrameImage| i.color.iter().map(|c| c[0] as f64).sum::<f64>() / i.color.len() as f64;
    let (m_still, m_blur) = (mean(&still), mean(&blurred));
    assert!((m_blur / m_still - 1.0).abs() < 0.03, "image mean {m_blur} blurred vs {m_still} still");

    // Columns the square lights along its middle row.
    let lit = |i: &FrameImage| (0..SIDE).filter(|&x| red(i, x, SIDE / 2) > 1e-3).count() as i64;
    let (w_still, w_blur) = (lit(&still), lit(&blurred));
    assert!((w_still - 16).abs() <= 1, "the still square is {w_still} pixels wide");
    assert!((w_blur - w_still - 8).abs() <= 1, "streak: {w_blur} lit columns blurred vs {w_still} still");
    // Shutter start puts the whole streak after the frame's position.
    let start = render(&path, &settings(SIDE, 64, blur(0.5, ShutterPosition::Start, 1)), 13);
    let first_lit = |i: &FrameImage| (0..SIDE).find(|&x| red(i, x, SIDE / 2) > 1e-3).unwrap();
    assert_eq!(first_lit(&start), first_lit(&still), "a shutter opening at the frame starts where the still is");
}

#[test]
fn a_moving_camera_streaks_a_still_square_the_other_way() {
    // The camera slides right at 24 units per second, so the square moves left in
    // the image: with the shutter closing at the frame, it streaks 8 pixels to the
    // right of where the still frame shows it.
    let dir = tempfile::tempdir().unwrap();
    let mut doc = emissive_square(1.0, [0.0; 3], 2.0);
    animate_node(&mut doc, 2, "translation", &[0.0, 1.0], &[-12.0, 0.0, 5.0, 12.0, 0.0, 5.0], "VEC3");
    let path = doc.write_embedded(dir.path(), "camera.gltf");
    let still = render(&path, &settings(SIDE, 64, None), 13);
    let blurred = render(&path, &settings(SIDE, 64, blur(0.5, ShutterPosition::End, 1)), 13);
    let lit: Vec<u32> = (0..SIDE).filter(|&x| red(&blurred, x, SIDE / 2) > 1e-3).collect();
    let still_lit: Vec<u32> = (0..SIDE).filter(|&x| red(&still, x, SIDE / 2) > 1e-3).collect();
    assert_eq!(still_lit.len(), 16, "{still_lit:?}");
    assert!((lit.len() as i64 - 24).abs() <= 1, "{} lit columns: {lit:?}", lit.len());
    let (first, last) = (lit[0] as i64, *lit.last().unwrap() as i64);
    assert!((first - still_lit[0] as i64).abs() <= 1, "the streak starts where the still square does: {lit:?}");
    assert!((last - *still_lit.last().unwrap() as i64 - 8).abs() <= 1, "and reaches 8 pixels further right: {lit:?}");
}

#[test]
fn a_shutter_of_zero_and_a_still_scene_render_the_same_bits_as_no_blur() {
    let dir = tempfile::tempdir().unwrap();
    let path = sliding(dir.path());
    let none = render(&path, &settings(32, 8, None), 13);
    let zero = render(&path, &settings(32, 8, blur(0.0, ShutterPosition::Center, 1)), 13);
    assert!(none.color == zero.color, "shutter 0 differs from no motion blur");

    let cornell = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/cornell-box.gltf");
    let off = render(&cornell, &settings(32, 8, None), 1);
    let on = render(&cornell, &settings(32, 8, blur(0.5, ShutterPosition::Center, 4)), 1);
    assert!(off.color == on.color && off.albedo == on.albedo, "a still scene changes with motion blur on");
    let moving = render(&path, &settings(32, 8, blur(0.5, ShutterPosition::Center, 1)), 13);
    assert!(moving.color != none.color, "the sliding square does not blur");
}

#[test]
fn a_blurred_frame_is_the_same_in_one_tile_or_sixteen() {
    let dir = tempfile::tempdir().unwrap();
    let path = sliding(dir.path());
    let s = settings(SIDE, 8, blur(1.0, ShutterPosition::Center, 3));
    let one = render_tiled(&path, &s, 13, 64);
    let sixteen = render_tiled(&path, &s, 13, 16);
    assert!(one.color == sixteen.color && one.depth == sixteen.depth, "tiling changes a blurred frame");
}

#[test]
fn a_spinning_square_blurs_along_its_circle_with_motion_steps() {
    // A square of side 0.2 at radius 1 turns a quarter about the origin during
    // frame 1's shutter (opening at the frame, one frame long). Orthographic view
    // of half-extent 1.5 over 96 pixels: 32 pixels per unit.
    let dir = tempfile::tempdir().unwrap();
    let mut doc = emissive_square(0.2, [1.0, 0.0, 0.0], 1.5);
    let q = std::f32::consts::FRAC_1_SQRT_2;
    animate(&mut doc, "rotation", &[0.0, 1.0 / 24.0], &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, q, q], "VEC4");
    let path = doc.write_embedded(dir.path(), "spinning.gltf");
    let pixel = |x: f32, y: f32| ((48.0 + 32.0 * x) as u32, (48.0 - 32.0 * y) as u32);
    let block = |image: &FrameImage, (px, py): (u32, u32)| {
        let mut sum = 0.0;
        for y in py - 1..=py + 1 {
            for x in px - 1..=px + 1 {
                sum += red(image, x, y);
            }
        }
        sum / 9.0
    };
    let arc = pixel(q, q);
    let chord = pixel(0.5, 0.5);
    // Two keys move it along the chord between its end positions...
    let two = render(&path, &settings(96, 128, blur(1.0, ShutterPosition::Start, 1)), 1);
    assert!(
        block(&two, chord) > 0.05 && block(&two, arc) < 0.01,
        "two keys: chord {} arc {}",
        block(&two, chord),
        block(&two, arc)
    );
    // ...and 32 keys along the circle.
    let many = render(&path, &settings(96, 128, blur(1.0, ShutterPosition::Start, 32)), 1);
    let (on_arc, on_chord) = (block(&many, arc), block(&many, chord));
    assert!(on_arc > 0.05 && on_chord < 0.01, "32 keys: arc {on_arc} chord {on_chord}");
}

#[test]
fn motion_blur_on_a_scene_that_does_not_move_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let cornell = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/cornell-box.gltf");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["render", "--width", "8", "--height", "8", "--spp", "1", "--backend", "cpu", "--motion-blur"])
        .arg(&cornell)
        .arg("-o")
        .arg(dir.path().join("still_##.png"))
        .args(["--frames", "1-2"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert_eq!(log.matches("nothing in").count(), 1, "{log}");
}
