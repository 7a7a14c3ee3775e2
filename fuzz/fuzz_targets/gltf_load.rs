//! A `.gltf`/`.glb` file as a farm user uploads it: loading must end in a scene or
//! an error, never a panic, an abort or an allocation past the budget, and a scene
//! that loads must prepare for rendering (camera, lights, BVH) without a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera::scene::{prepare, AnimationSelect, Confinement, LoadOptions, PrepareOptions, Scene, Shutter};

/// The scene's folder: empty, so every external URI fails to resolve.
fn scene_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tessera-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        dir.join("scene.gltf")
    })
}

fuzz_target!(|bytes: &[u8]| {
    let path = scene_path();
    let limits = LoadOptions {
        root: Confinement::Folder(path.parent().expect("a folder").to_path_buf()),
        memory_limit: 256 << 20,
        max_instances: 1 << 16,
    };
    let Ok(scene) = Scene::from_bytes_with(path, bytes, &limits) else { return };
    // Posed halfway through every animation with the shutter open, so keyframe
    // data and the motion keys are exercised too.
    let shutter = Some(Shutter { open: 0.4, close: 0.6, keys: 3 });
    let opts = PrepareOptions { width: 16, height: 16, camera: None, time: 0.5, animation: AnimationSelect::All, shutter };
    let _ = prepare(&scene, None, &opts);
});
