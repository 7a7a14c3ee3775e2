//! Direct illumination of the Cornell box floor against deterministic
//! quadrature: no other renderer needed.
//!
//! For a few floor pixels, the reference integrates over the pixel (a grid of
//! camera rays, the film's box filter) and, at each floor point, over the
//! ceiling light (Gauss–Legendre on the quad) the BRDF × cos θ × cos θ_light /
//! r² × L_e. The BRDF is written out here from the model's formulas (GGX, Smith
//! G2, Schlick, the layer's directional albedo by quadrature rather than the
//! renderer's table), so the test checks the BSDF's evaluation, light sampling,
//! MIS and the camera together. The points are chosen where the whole light is
//! visible (asserted with shadow rays), so no visibility term is needed.

use std::f32::consts::FRAC_1_PI;

use glam::{Vec2, Vec3};
use tessera::accel::{intersect, occluded, Ray};
use tessera::backend::cpu::CpuBackend;
use tessera::backend::Backend;
use tessera::render::integrator::camera_ray;
use tessera::render::settings::{prepare_frame, RenderSettings};
use tessera::render::task::{RenderTask, SampleRange, Tile};
use tessera::sampling::ggx_albedo::lobe_albedo;
use tessera::sampling::microfacet::{ggx_d, roughness_to_alpha, smith_g2};
use tessera::scene::cornell::{cornell_box, LIGHT_RADIANCE};
use tessera::scene::flat::FlatScene;

/// The floor's glTF material (scene/cornell.rs): white, dielectric, roughness 1, ior 1.5.
const FLOOR_COLOR: [f32; 3] = [0.725, 0.71, 0.68];
const FLOOR_ROUGHNESS: f32 = 1.0;
const F0: f32 = 0.04;
/// The light quad in metres (scene/cornell.rs), facing down.
const LIGHT_CORNER: Vec3 = Vec3::new(0.213, 0.5487, 0.227);
const LIGHT_SIZE: Vec2 = Vec2::new(0.130, 0.105);

/// 16-point Gauss–Legendre nodes and weights on [−1, 1].
fn gauss_legendre() -> Vec<(f64, f64)> {
    const N: usize = 16;
    // Newton iteration on P_16 from Chebyshev guesses.
    (0..N)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (N as f64 + 0.5)).cos();
            let mut derivative = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=N {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                derivative = N as f64 * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() < 1e-15 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * derivative * derivative))
        })
        .collect()
}

/// The dielectric layer's compensated directional albedo E(μ) and its
/// hemispherical average, from the lobe quadrature (not the renderer's table).
struct Layer {
    mus: Vec<f32>,
    e1: Vec<f32>,
    albedo: Vec<f32>,
    average: f32,
}

impl Layer {
    fn new(roughness: f32) -> Layer {
        let n = 96;
        let mus: Vec<f32> = (0..=n).map(|k| (k as f32 / n as f32).powi(2).max(1e-4)).collect();
        let lobes: Vec<Vec2> = mus.iter().map(|&mu| lobe_albedo(mu, roughness)).collect();
        let e1: Vec<f32> = lobes.iter().map(|a| a.x).collect();
        let albedo: Vec<f32> =
            lobes.iter().map(|a| (F0 * (a.x - a.y) + a.y) * (1.0 + F0 * (1.0 - a.x) / a.x)).collect();
        let mut layer = Layer { mus, e1, albedo, average: 0.0 };
        let m = 4000;
        layer.average =
            (0..m).map(|k| (k as f32 + 0.5) / m as f32).map(|mu| 2.0 * mu * layer.at(mu).1 / m as f32).sum();
        layer
    }

    /// (E1, E) at cosine `mu`, linear between quadrature points.
    fn at(&self, mu: f32) -> (f32, f32) {
        let k = self.mus.partition_point(|&m| m < mu).clamp(1, self.mus.len() - 1);
        let t = ((mu - self.mus[k - 1]) / (self.mus[k] - self.mus[k - 1])).clamp(0.0, 1.0);
        let lerp = |v: &[f32]| v[k - 1] + (v[k] - v[k - 1]) * t;
        (lerp(&self.e1), lerp(&self.albedo))
    }
}

/// The floor's BRDF f(wo, wi) (not times the cosine), z up.
fn floor_brdf(layer: &Layer, wo: Vec3, wi: Vec3) -> Vec3 {
    let alpha = Vec2::splat(roughness_to_alpha(FLOOR_ROUGHNESS));
    let h = (wo + wi).normalize();
    let fresnel = F0 + (1.0 - F0) * (1.0 - wo.dot(h)).powi(5);
    let (e1_o, e_o) = layer.at(wo.z);
    let (_, e_i) = layer.at(wi.z);
    let specular =
        fresnel * (1.0 + F0 * (1.0 - e1_o) / e1_o) * ggx_d(h, alpha) * smith_g2(wo, wi, alpha) / (4.0 * wo.z * wi.z);
    let diffuse = Vec3::from(FLOOR_COLOR) * (FRAC_1_PI * (1.0 - e_o) * (1.0 - e_i) / (1.0 - layer.average));
    diffuse + Vec3::splat(specular)
}

/// Reflected radiance towards `eye` from floor point `p` (y = 0), by quadrature
/// over the light; asserts that every quadrature point of the light is visible.
fn floor_radiance(scene: &FlatScene, layer: &Layer, nodes: &[(f64, f64)], p: Vec3, eye: Vec3) -> Vec3 {
    // Floor frame: z along the world's +y.
    let local = |v: Vec3| Vec3::new(v.x, v.z, v.y);
    let wo = local((eye - p).normalize());
    let mut sum = Vec3::ZERO;
    for &(x, wx) in nodes {
        for &(z, wz) in nodes {
            let q = LIGHT_CORNER
                + Vec3::new(LIGHT_SIZE.x * (x as f32 + 1.0) * 0.5, 0.0, LIGHT_SIZE.y * (z as f32 + 1.0) * 0.5);
            let d = q - p;
            let r2 = d.length_squared();
            let wi = d / r2.sqrt();
            let shadow = Ray { origin: p + Vec3::Y * 1e-4, dir: wi };
            assert!(
                !occluded(&scene.nodes, &scene.triangles, &shadow, r2.sqrt() * (1.0 - 1e-3), |_, _, _| true),
                "the light is partly hidden from {p}: choose another pixel"
            );
            let cos_light = wi.y; // the light faces −y
            let weight = (wx * wz) as f32 * 0.25 * LIGHT_SIZE.x * LIGHT_SIZE.y;
            sum += floor_brdf(layer, wo, local(wi)) * (local(wi).z * cos_light / r2 * weight);
        }
    }
    sum * Vec3::from(LIGHT_RADIANCE)
}

#[test]
fn floor_direct_light_matches_quadrature() {
    let settings = RenderSettings { width: 64, height: 64, spp: 1, max_depth: 1, ..Default::default() };
    let scene = cornell_box().unwrap();
    let flat = prepare_frame(&scene, None, &settings, 0).unwrap();
    let camera = flat.header.camera;
    let nodes = gauss_legendre();
    let layer = Layer::new(FLOOR_ROUGHNESS);
    let mut backend = CpuBackend::new(None).unwrap();
    backend.upload(&flat).unwrap();

    // Floor pixels in front of the short block that see the whole light.
    for (px, py) in [(6, 60), (14, 60), (22, 60), (26, 57), (12, 59)] {
        // Reference: a 12 × 12 grid of camera rays over the pixel.
        let grid = 12;
        let mut reference = Vec3::ZERO;
        for j in 0..grid {
            for i in 0..grid {
                let jitter = Vec2::new((i as f32 + 0.5) / grid as f32, (j as f32 + 0.5) / grid as f32);
                let ray = camera_ray(&camera, px, py, jitter);
                assert!(ray.dir.y < 0.0, "pixel ({px}, {py}) does not look down at the floor");
                let t = -ray.origin.y / ray.dir.y;
                let p = ray.origin + ray.dir * t;
                assert!(
                    p.x > 0.01 && p.x < 0.54 && p.z > 0.0 && p.z < 0.55,
                    "pixel ({px}, {py}) misses the floor: {p}"
                );
                let hit = intersect(&flat.nodes, &flat.triangles, &ray, f32::INFINITY, |_, _, _| true);
                assert!(
                    hit.is_some_and(|h| (h.t - t).abs() < 1e-4 * t),
                    "pixel ({px}, {py}) sees something before the floor"
                );
                reference += floor_radiance(&flat, &layer, &nodes, p, ray.origin);
            }
        }
        reference /= (grid * grid) as f32;

        let task = RenderTask {
            frame: 0,
            tile: Tile { x: px, y: py, width: 1, height: 1 },
            samples: SampleRange { start: 0, end: 200_000 },
            seed: 7,
            max_depth: 1,
        };
        let sums = backend.render(&task, &|_| true).unwrap().pixels[0];
        let n = sums.count as f32;
        let mean = Vec3::from(sums.radiance) / n;
        let variance = Vec3::from(sums.radiance_sq) / n - mean * mean;
        let stderr = (variance / n).max(Vec3::ZERO).powf(0.5);
        eprintln!("pixel ({px}, {py}): rendered {mean} ± {stderr}, quadrature {reference}, ratio {}", mean / reference);
        for c in 0..3 {
            let error = (mean[c] - reference[c]).abs();
            // 0.5% of the value, plus three standard errors of the estimate.
            assert!(
                error <= 0.005 * reference[c] + 3.0 * stderr[c],
                "pixel ({px}, {py}) channel {c}: rendered {} ± {}, quadrature {}",
                mean[c],
                stderr[c],
                reference[c]
            );
            assert!(stderr[c] < 0.002 * reference[c], "pixel ({px}, {py}): estimate too noisy to judge");
        }
    }
}
