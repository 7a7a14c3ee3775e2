//! The CPU reference path tracer: unidirectional path tracing with next-event
//! estimation (MIS, power heuristic) and Russian roulette. `shaders/integrator.wgsl`
//! and `kernels/integrator.cu` follow this function step by step.

use glam::{Vec2, Vec3};

use crate::accel::Ray;
use crate::render::motion::{self, intersect, occluded};
use crate::render::surface::{
    alpha_mask_accepts, material_alpha, medium_after, offset_ray_origin, shade, surface_hit, transmittance,
};
use crate::render::task::PixelSums;
use crate::sampling::light::{env_pdf, env_radiance, sample_light, triangle_light_pdf};
use crate::sampling::rng::{group_bsdf, group_light, sample4, GROUP_CAMERA};
use crate::sampling::warp::power_heuristic;
use crate::scene::flat::*;

/// Bounces after which Russian roulette may end a path.
pub const RR_START_BOUNCE: u32 = 3;
/// Most alpha-blended surfaces a path may pass through between two bounces.
pub const MAX_TRANSPARENT_HITS: u32 = 16;

/// What one camera sample returns.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PathResult {
    pub radiance: Vec3,
    pub albedo: Vec3,
    pub normal: Vec3,
    /// Distance to the first hit along the (unit) camera ray; 0 on a miss.
    pub depth: f32,
    pub hit: bool,
    /// Rays traced (closest-hit and shadow).
    pub rays: u32,
}

/// Dimension group for stochastic alpha blending: pass-through `layer` at `bounce`
/// (kept far from the bounce groups so the two never share numbers).
#[inline]
pub fn group_transparency(bounce: u32, layer: u32) -> u32 {
    0x8000_0000 | (bounce << 8) | layer
}

/// The camera ray through a point of pixel (px, py), offset by `jitter` in [0,1)².
pub fn camera_ray(cam: &Camera, px: u32, py: u32, jitter: Vec2) -> Ray {
    let x = (px as f32 + jitter.x) / cam.width as f32 * 2.0 - 1.0;
    let y = 1.0 - (py as f32 + jitter.y) / cam.height as f32 * 2.0;
    let (origin, right, up, forward) =
        (Vec3::from(cam.origin), Vec3::from(cam.right), Vec3::from(cam.up), Vec3::from(cam.forward));
    if cam.kind == CAMERA_ORTHOGRAPHIC {
        Ray { origin: origin + right * x + up * y, dir: forward }
    } else {
        Ray { origin, dir: (forward + right * x + up * y).normalize() }
    }
}

fn is_black(v: Vec3) -> bool {
    v.cmple(Vec3::ZERO).all()
}

/// Traces sample `sample` of pixel (px, py).
pub fn trace_path(scene: &FlatScene, seed: u32, px: u32, py: u32, sample: u32, max_depth: u32) -> PathResult {
    let rand = |group: u32| sample4(seed, px, py, sample, group);
    let accept = |tri: u32, u: f32, v: f32| alpha_mask_accepts(scene, tri, u, v);

    // The whole path travels at one instant of the shutter (motion blur).
    let at = motion::sample_instant(scene, seed, px, py, sample);
    let cam = rand(GROUP_CAMERA);
    let mut ray = camera_ray(&motion::camera(scene, at), px, py, Vec2::new(cam[1], cam[2]));
    let mut result = PathResult::default();
    let mut beta = Vec3::ONE;
    let mut radiance = Vec3::ZERO;
    // Density of the BSDF sample that produced `ray` (for MIS when it hits an emitter).
    let mut prev_bsdf_pdf = 0.0f32;
    let mut bounce = 0u32;
    let mut transparent_hits = 0u32;
    // Absorption of the volume the ray travels in (zero: clear).
    let mut medium = Vec3::ZERO;

    loop {
        result.rays += 1;
        let found = intersect(scene, &ray, f32::INFINITY, at, accept);
        beta *= transmittance(medium, found.as_ref().map_or(f32::INFINITY, |hit| hit.t));
        let Some(hit) = found else {
            let env = env_radiance(scene, ray.dir);
            if scene.header.env_light != NONE && !is_black(env) {
                let weight = if bounce == 0 {
                    1.0
                } else {
                    let light_pdf = scene.lights[scene.header.env_light as usize].pick_pdf * env_pdf(scene, ray.dir);
                    power_heuristic(prev_bsdf_pdf, light_pdf)
                };
                radiance += beta * env * weight;
            }
            break;
        };
        let surf = surface_hit(scene, &hit, ray.dir, at);
        let material = &scene.materials[surf.material as usize];

        // Alpha blending: pass through with probability 1 - alpha, without a bounce.
        if material.flags & MAT_ALPHA_BLEND != 0 && transparent_hits < MAX_TRANSPARENT_HITS {
            let alpha = material_alpha(scene, material, surf.uv0, surf.uv1);
            if rand(group_transparency(bounce, transparent_hits))[0] >= alpha {
                transparent_hits += 1;
                let side = if surf.front_face { -surf.geo_normal } else { surf.geo_normal };
                ray.origin = offset_ray_origin(surf.position, side);
                continue;
            }
        }
        transparent_hits = 0;

        let sp = shade(scene, &surf);
        if bounce == 0 {
            result.hit = true;
            result.albedo = sp.albedo;
            result.normal = sp.frame.n;
            result.depth = hit.t;
        }

        // Emission reached by the camera or by BSDF sampling, weighted against NEE.
        if !is_black(sp.emission) {
            let tri_light = scene.triangles[hit.tri as usize].light;
            let weight = if bounce == 0 || tri_light == NONE {
                1.0
            } else {
                let cos_light = ray.dir.dot(surf.geo_normal);
                power_heuristic(prev_bsdf_pdf, triangle_light_pdf(scene, hit.tri, hit.t, cos_light, at))
            };
            radiance += beta * sp.emission * weight;
        }

        // An unlit surface shows its colour and reflects nothing.
        if bounce == max_depth || material.flags & MAT_UNLIT != 0 {
            break;
        }

        let wo = sp.frame.to_local(-ray.dir);
        let view = sp.bsdf.view(wo);

        // Next-event estimation.
        if let Some(ls) = sample_light(scene, surf.position, rand(group_light(bounce)), at) {
            if !is_black(ls.radiance) {
                let wi = sp.frame.to_local(ls.wi);
                let (f, bsdf_pdf) = view.eval_pdf(wi);
                if !is_black(f) {
                    let side = if ls.wi.dot(sp.geo_normal) >= 0.0 { sp.geo_normal } else { -sp.geo_normal };
                    let shadow = Ray { origin: offset_ray_origin(surf.position, side), dir: ls.wi };
                    let t_max = if ls.dist.is_finite() { ls.dist * (1.0 - 1e-4) } else { f32::INFINITY };
                    result.rays += 1;
                    if !occluded(scene, &shadow, t_max, at, accept) {
                        let weight = if ls.delta { 1.0 } else { power_heuristic(ls.pdf, bsdf_pdf) };
                        let absorbed = transmittance(medium_after(material, wo.z, wi.z, medium), ls.dist);
                        radiance += beta * f * absorbed * ls.radiance * (weight / ls.pdf);
                    }
                }
            }
        }

        // Continue the path by sampling the BSDF.
        let u = rand(group_bsdf(bounce));
        let Some(bs) = view.sample(u[0], Vec2::new(u[1], u[2])) else {
            break;
        };
        beta *= bs.weight;
        prev_bsdf_pdf = bs.pdf;
        medium = medium_after(material, wo.z, bs.wi.z, medium);
        let wi_world = sp.frame.to_world(bs.wi);
        let side = if wi_world.dot(sp.geo_normal) >= 0.0 { sp.geo_normal } else { -sp.geo_normal };
        ray = Ray { origin: offset_ray_origin(surf.position, side), dir: wi_world };

        // Russian roulette: continue with probability max(beta), reweighting survivors.
        if bounce >= RR_START_BOUNCE {
            let survive = beta.max_element().min(1.0);
            if u[3] >= survive {
                break;
            }
            beta /= survive;
        }
        if is_black(beta) || !beta.is_finite() {
            break;
        }
        bounce += 1;
    }

    result.radiance = if radiance.is_finite() { radiance } else { Vec3::ZERO };
    result
}

/// Adds one path's result to a pixel's sums.
#[inline]
pub fn accumulate(sums: &mut PixelSums, r: &PathResult) {
    let add3 = |acc: &mut [f32; 3], v: Vec3| *acc = (Vec3::from(*acc) + v).to_array();
    add3(&mut sums.radiance, r.radiance);
    add3(&mut sums.radiance_sq, r.radiance * r.radiance);
    add3(&mut sums.albedo, r.albedo);
    add3(&mut sums.normal, r.normal);
    sums.depth += r.depth;
    sums.alpha += if r.hit { 1.0 } else { 0.0 };
    sums.count += 1;
}
