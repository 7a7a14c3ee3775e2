//! EXR round trips, PNG tone mapping and the errors of `write_image` / `read_exr`.

use std::path::Path;

use tessera::output::tonemap::display_encode;
use tessera::output::{read_exr, read_noisy, write_image, OutputError, OutputOptions, ViewTransform};
use tessera::render::film::FrameImage;

const VIEWS: [ViewTransform; 3] = [ViewTransform::Agx, ViewTransform::Aces, ViewTransform::Standard];

/// A small image whose every channel differs per pixel (so swapped channels or
/// pixels show), with awkward values: tiny, huge, negative.
fn test_image(width: u32, height: u32) -> FrameImage {
    let n = (width * height) as usize;
    let f = |i: usize, k: f32| (i as f32 * 0.37 + k).sin() * (1.0 + k);
    FrameImage {
        width,
        height,
        color: (0..n).map(|i| [f(i, 1.0).abs() * 40.0, 1e-7 * i as f32, 0.5, (i % 3) as f32 / 2.0]).collect(),
        albedo: (0..n).map(|i| [f(i, 2.0).abs(), f(i, 3.0).abs(), 0.25]).collect(),
        normal: (0..n).map(|i| [f(i, 4.0), -f(i, 5.0), 0.0]).collect(),
        depth: (0..n).map(|i| 1e4 + i as f32).collect(),
        samples: (0..n).map(|i| (i * 7 % 64) as f32).collect(),
        variance: (0..n).map(|i| [f(i, 6.0).abs(), 3.0e8, 0.0]).collect(),
    }
}

fn channel_names(path: &Path) -> Vec<String> {
    use exr::prelude::*;
    let meta = MetaData::read_from_file(path, true).unwrap();
    assert_eq!(meta.headers.len(), 1, "one part");
    meta.headers[0].channels.list.iter().map(|c| c.name.to_string()).collect()
}

#[test]
fn exr_round_trip_keeps_values_and_channel_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.exr");
    let image = test_image(13, 7);
    let noisy: Vec<[f32; 4]> = image.color.iter().map(|&[r, g, b, a]| [r + 1.0, g * 2.0, -b, a]).collect();
    write_image(&path, &image, Some(&noisy), &OutputOptions::default()).unwrap();

    assert_eq!(read_exr(&path).unwrap(), image);
    let noisy_back = read_noisy(&path).unwrap().expect("noisy layer");
    assert_eq!(noisy_back, noisy.iter().map(|&[r, g, b, _]| [r, g, b]).collect::<Vec<_>>());

    let mut names = channel_names(&path);
    names.sort();
    let mut expected = vec![
        "R",
        "G",
        "B",
        "A",
        "albedo.R",
        "albedo.G",
        "albedo.B",
        "normal.X",
        "normal.Y",
        "normal.Z",
        "depth.Z",
        "samples.Y",
        "variance.R",
        "variance.G",
        "variance.B",
        "noisy.R",
        "noisy.G",
        "noisy.B",
    ];
    expected.sort();
    assert_eq!(names, expected);
    // Nothing but the image is left in the folder (the temporary file was renamed).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn exr_without_aovs_round_trips_beauty_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("beauty.EXR");
    let image = FrameImage {
        albedo: vec![],
        normal: vec![],
        depth: vec![],
        samples: vec![],
        variance: vec![],
        ..test_image(5, 4)
    };
    write_image(&path, &image, None, &OutputOptions::default()).unwrap();
    assert_eq!(channel_names(&path).len(), 4);
    assert_eq!(read_exr(&path).unwrap(), image);
    assert_eq!(read_noisy(&path).unwrap(), None);
}

#[test]
fn tone_curves_are_monotone_and_map_black_to_zero() {
    for view in VIEWS {
        assert_eq!(display_encode([0.0; 3], 0.0, view), [0.0; 3], "{view:?}");
        let mut prev = 0.0;
        // Grey ramp from 2^-20 to 2^100, a quarter stop at a time, then infinity.
        let ramp = (0..=480).map(|i| (i as f32 / 4.0 - 20.0).exp2()).chain([f32::MAX, f32::INFINITY]);
        for x in ramp {
            let v = display_encode([x; 3], 0.0, view)[0];
            assert!(v >= prev && v <= 1.0, "{view:?} is not monotone at {x}: {v} after {prev}");
            prev = v;
        }
        assert_eq!((prev * 255.0).round(), 255.0, "{view:?} never reaches 8-bit white: {prev}");
        // Strictly increasing through the mid tones.
        let (dark, mid) = (display_encode([0.05; 3], 0.0, view)[0], display_encode([0.5; 3], 0.0, view)[0]);
        assert!(dark + 0.1 < mid, "{view:?}: {dark} vs {mid}");
    }
}

#[test]
fn one_stop_of_exposure_doubles_the_linear_input() {
    for view in VIEWS {
        for x in [0.001f32, 0.02, 0.18, 0.7, 3.0] {
            let rgb = [x, x * 0.5, x * 0.25];
            let brighter = display_encode(rgb, 1.0, view);
            let doubled = display_encode(rgb.map(|c| 2.0 * c), 0.0, view);
            for c in 0..3 {
                assert!((brighter[c] - doubled[c]).abs() < 1e-6, "{view:?} at {x}: {brighter:?} vs {doubled:?}");
            }
        }
        // And it does brighten: a mid grey one stop up is clearly lighter.
        assert!(display_encode([0.18; 3], 1.0, view)[0] > display_encode([0.18; 3], 0.0, view)[0] + 0.05);
    }
}

#[test]
fn filmic_views_roll_off_highlights_instead_of_clipping() {
    // Diffuse white stays below display white, and a light 8x brighter still
    // shows as brighter, not as the same clipped white.
    for view in [ViewTransform::Agx, ViewTransform::Aces] {
        let white = display_encode([1.0; 3], 0.0, view)[0];
        let bright = display_encode([8.0; 3], 0.0, view)[0];
        assert!(white < 0.95 && bright > white + 0.02, "{view:?}: {white} {bright}");
    }
    // Standard clips, as the name promises.
    assert!(display_encode([8.0; 3], 0.0, ViewTransform::Standard).iter().all(|&v| v > 0.9999));
    // AgX desaturates a very bright saturated red towards white rather than
    // leaving a flat pure red.
    let red = display_encode([64.0, 0.5, 0.5], 0.0, ViewTransform::Agx);
    assert!(red[1] > 0.5 && red[0] > red[1], "{red:?}");
}

#[test]
fn png_decodes_with_the_image_crate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.png");
    let image = test_image(11, 6);
    let opts = OutputOptions { exposure: -1.5, view: ViewTransform::Aces };
    write_image(&path, &image, None, &opts).unwrap();

    let decoded = image::open(&path).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (11, 6));
    let rgba = decoded.to_rgba8();
    for (i, px) in rgba.pixels().enumerate() {
        let [r, g, b, a] = image.color[i];
        // PNG alpha is straight: colour is divided by (non-zero) alpha.
        let straight = if a > 0.0 { [r / a, g / a, b / a] } else { [r, g, b] };
        let expected = display_encode(straight, -1.5, ViewTransform::Aces).map(|v| (v * 255.0).round() as u8);
        assert_eq!(&px.0[..3], &expected, "pixel {i}");
        assert_eq!(px.0[3], (a * 255.0).round() as u8, "alpha of pixel {i}");
    }
}

#[test]
fn unknown_extensions_are_refused_naming_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["frame.jpg", "frame"] {
        let path = dir.path().join(name);
        let err = write_image(&path, &test_image(2, 2), None, &OutputOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, OutputError::UnsupportedFormat { .. }), "{msg}");
        assert!(msg.contains(name) && msg.contains(".exr") && msg.contains(".png"), "{msg}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn io_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"a file").unwrap();
    let path = blocker.join("frame.png");
    let err = write_image(&path, &test_image(2, 2), None, &OutputOptions::default()).unwrap_err();
    assert!(matches!(err, OutputError::Io { .. }));
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");

    let missing = dir.path().join("missing.exr");
    let err = read_exr(&missing).unwrap_err();
    assert!(err.to_string().contains(&missing.display().to_string()), "{err}");
}

#[test]
fn missing_parent_folders_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shots/010/frame.exr");
    write_image(&path, &test_image(3, 3), None, &OutputOptions::default()).unwrap();
    assert!(path.is_file());
}

#[test]
fn inconsistent_images_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.exr");
    let mut image = test_image(4, 4);
    image.albedo.pop();
    let err = write_image(&path, &image, None, &OutputOptions::default()).unwrap_err();
    assert!(err.to_string().contains("albedo has 15 pixels"), "{err}");

    let image = test_image(4, 4);
    let short_noisy = vec![[0.0; 4]; 3];
    let err = write_image(&path, &image, Some(&short_noisy), &OutputOptions::default()).unwrap_err();
    assert!(err.to_string().contains("noisy"), "{err}");

    let empty = FrameImage::default();
    assert!(write_image(&dir.path().join("empty.png"), &empty, None, &OutputOptions::default()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn truncated_and_incomplete_exr_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.exr");
    write_image(&path, &test_image(64, 48), None, &OutputOptions::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let truncated = dir.path().join("truncated.exr");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = read_exr(&truncated).unwrap_err();
    assert!(err.to_string().starts_with(&truncated.display().to_string()), "{err}");

    // A layer with only some of its channels.
    use exr::prelude::*;
    let partial = dir.path().join("partial.exr");
    let plane = |v: f32| FlatSamples::F32(vec![v; 4]);
    let channels = AnyChannels::sort(SmallVec::from_vec(vec![
        AnyChannel::new("R", plane(1.0)),
        AnyChannel::new("G", plane(1.0)),
        AnyChannel::new("B", plane(1.0)),
        AnyChannel::new("albedo.R", plane(0.5)),
        AnyChannel::new("albedo.G", plane(0.5)),
    ]));
    Image::from_channels((2, 2), channels).write().to_file(&partial).unwrap();
    let err = read_exr(&partial).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("partial.exr") && msg.contains("albedo") && msg.contains("albedo.B"), "{msg}");
}
