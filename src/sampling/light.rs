//! Light sampling for next-event estimation: pick a light by power from the
//! light CDF, then sample a direction towards it. Also the densities that MIS
//! needs when a BSDF-sampled ray hits an emitter. Spelled the same way in
//! `shaders/light.wgsl` and `kernels/light.cuh`.

use std::f32::consts::{FRAC_1_PI, PI};

use glam::{Vec2, Vec3, Vec4Swizzles};

use super::distribution::{env_distribution_pdf, sample_cdf, sample_env_distribution};
use super::warp::{square_to_uniform_sphere, square_to_uniform_triangle, uniform_sphere_pdf};
use crate::render::motion::{self, Instant};
use crate::scene::flat::*;
use crate::scene::texture::{sample_slot, triangle_uvs};

/// A sampled direction towards a light.
#[derive(Clone, Copy, Debug)]
pub struct LightSample {
    /// Unit direction from the shading point towards the light.
    pub wi: Vec3,
    /// Distance to the light (`f32::INFINITY` for directional and environment lights).
    pub dist: f32,
    /// Incident radiance (or, for point and directional lights, the irradiance-like
    /// quantity that plays its role) arriving along `-wi`.
    pub radiance: Vec3,
    /// Density of choosing this direction, including the light's pick probability:
    /// solid angle for area and environment lights, a probability for delta lights.
    pub pdf: f32,
    /// Point, spot and directional lights cannot be hit by BSDF sampling, so they get no MIS.
    pub delta: bool,
}

/// Equirectangular UV of a direction (see [`SceneHeader`] for the convention).
#[inline]
pub fn direction_to_equirect(d: Vec3) -> Vec2 {
    Vec2::new(0.5 + d.x.atan2(-d.z) * (0.5 * FRAC_1_PI), d.y.clamp(-1.0, 1.0).acos() * FRAC_1_PI)
}

/// Direction of an equirectangular UV; inverse of [`direction_to_equirect`].
#[inline]
pub fn equirect_to_direction(uv: Vec2) -> Vec3 {
    let phi = (uv.x - 0.5) * 2.0 * PI;
    let theta = uv.y * PI;
    let (sin_t, cos_t) = theta.sin_cos();
    Vec3::new(sin_t * phi.sin(), cos_t, -sin_t * phi.cos())
}

/// Radiance of the environment seen along direction `d` (unit length).
pub fn env_radiance(scene: &FlatScene, d: Vec3) -> Vec3 {
    let h = &scene.header;
    let color = Vec3::from(h.env_color);
    if h.env_flags & ENV_MAP == 0 {
        return color;
    }
    let uv = direction_to_equirect(d);
    let x = ((uv.x * h.env_width as f32) as u32).min(h.env_width - 1);
    let y = ((uv.y * h.env_height as f32) as u32).min(h.env_height - 1);
    color * glam::Vec4::from(scene.env_texels[(y * h.env_width + x) as usize]).xyz()
}

/// Solid-angle density with which [`sample_light`] samples direction `d` once the
/// environment has been picked (excludes the pick probability).
pub fn env_pdf(scene: &FlatScene, d: Vec3) -> f32 {
    let h = &scene.header;
    if h.env_flags & ENV_MAP == 0 {
        return uniform_sphere_pdf();
    }
    let uv = direction_to_equirect(d);
    let sin_theta = (uv.y * PI).sin();
    if sin_theta <= 0.0 {
        return 0.0;
    }
    let (w, hgt) = (h.env_width as usize, h.env_height as usize);
    env_distribution_pdf(&scene.env_marginal_cdf, &scene.env_conditional_cdf, w, hgt, uv) / (2.0 * PI * PI * sin_theta)
}

/// Emitted radiance of emissive triangle `tri` at barycentrics (b1, b2), towards a
/// point on the side given by `front` (zero on the back of single-sided materials).
pub fn triangle_emission(scene: &FlatScene, tri: u32, b1: f32, b2: f32, front: bool) -> Vec3 {
    let t = &scene.triangles[tri as usize];
    let m = &scene.materials[t.material as usize];
    if !front && m.flags & MAT_DOUBLE_SIDED == 0 {
        return Vec3::ZERO;
    }
    let (uv0, uv1) = triangle_uvs(scene, tri, b1, b2);
    Vec3::from(m.emission) * sample_slot(scene, &m.emissive_tex, uv0, uv1).xyz()
}

/// Solid-angle density of sampling a point on the emissive triangle `tri` seen at
/// distance `dist` with cosine `cos_light` at the light (pick probability included).
/// `at`: the instant of the shutter (a moving emitter's area is its area then).
pub fn triangle_light_pdf(scene: &FlatScene, tri: u32, dist: f32, cos_light: f32, at: Option<Instant>) -> f32 {
    let t = &motion::triangle(scene, tri, at);
    if t.light == NONE || cos_light == 0.0 {
        return 0.0;
    }
    let area = 0.5 * Vec3::from(t.e1).cross(Vec3::from(t.e2)).length();
    scene.lights[t.light as usize].pick_pdf * dist * dist / (area * cos_light.abs())
}

/// The glTF KHR_lights_punctual range window: smooth fall-off to zero at `range`.
#[inline]
fn range_window(dist: f32, range: f32) -> f32 {
    if range <= 0.0 {
        return 1.0;
    }
    let r = dist / range;
    let r4 = r * r * r * r;
    (1.0 - r4).clamp(0.0, 1.0).powi(2)
}

/// Samples one light for shading point `p`: `u.x` picks the light, `u.y`/`u.z` the
/// point on it. `None` when there are no lights or the sample carries nothing.
/// `at`: the instant of the shutter the path travels at (motion blur).
pub fn sample_light(scene: &FlatScene, p: Vec3, u: [f32; 4], at: Option<Instant>) -> Option<LightSample> {
    if scene.lights.is_empty() {
        return None;
    }
    let index = sample_cdf(&scene.light_cdf, u[0]);
    let light = &scene.lights[index];
    let pick = light.pick_pdf;
    let uv = Vec2::new(u[1], u[2]);
    match light.kind {
        LIGHT_POINT | LIGHT_SPOT => {
            let to_light = Vec3::from(light.position) - p;
            let dist2 = to_light.length_squared();
            if dist2 == 0.0 {
                return None;
            }
            let dist = dist2.sqrt();
            let wi = to_light / dist;
            let mut falloff = range_window(dist, light.range) / dist2;
            if light.kind == LIGHT_SPOT {
                let cd = (-wi).dot(Vec3::from(light.direction));
                let t = ((cd - light.cos_outer) / (light.cos_inner - light.cos_outer).max(1e-4)).clamp(0.0, 1.0);
                falloff *= t * t;
            }
            let radiance = Vec3::from(light.intensity) * falloff;
            Some(LightSample { wi, dist, radiance, pdf: pick, delta: true })
        }
        LIGHT_DIRECTIONAL => Some(LightSample {
            wi: -Vec3::from(light.direction),
            dist: f32::INFINITY,
            radiance: Vec3::from(light.intensity),
            pdf: pick,
            delta: true,
        }),
        LIGHT_TRIANGLE => {
            let t = &motion::triangle(scene, light.index, at);
            let (v0, e1, e2) = (Vec3::from(t.v0), Vec3::from(t.e1), Vec3::from(t.e2));
            let b = square_to_uniform_triangle(uv);
            let q = v0 + e1 * b.x + e2 * b.y;
            let to_light = q - p;
            let dist2 = to_light.length_squared();
            if dist2 == 0.0 {
                return None;
            }
            let dist = dist2.sqrt();
            let wi = to_light / dist;
            let n = e1.cross(e2);
            let cos_light = -wi.dot(n.normalize_or_zero());
            let radiance = triangle_emission(scene, light.index, b.x, b.y, cos_light > 0.0);
            let pdf = triangle_light_pdf(scene, light.index, dist, cos_light, at);
            (pdf > 0.0).then_some(LightSample { wi, dist, radiance, pdf, delta: false })
        }
        LIGHT_ENVIRONMENT => {
            let h = &scene.header;
            let (wi, pdf) = if h.env_flags & ENV_MAP != 0 {
                let (w, hgt) = (h.env_width as usize, h.env_height as usize);
                let (uv, pdf_uv) =
                    sample_env_distribution(&scene.env_marginal_cdf, &scene.env_conditional_cdf, w, hgt, uv);
                let sin_theta = (uv.y * PI).sin();
                if sin_theta <= 0.0 {
                    return None;
                }
                (equirect_to_direction(uv), pdf_uv / (2.0 * PI * PI * sin_theta))
            } else {
                (square_to_uniform_sphere(uv), uniform_sphere_pdf())
            };
            let radiance = env_radiance(scene, wi);
            Some(LightSample { wi, dist: f32::INFINITY, radiance, pdf: pdf * pick, delta: false })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equirect_mapping_round_trips() {
        for i in 0..50 {
            let uv = Vec2::new(0.01 + 0.98 * (i as f32 * 0.618).fract(), 0.01 + 0.98 * (i as f32 * 0.377).fract());
            let back = direction_to_equirect(equirect_to_direction(uv));
            assert!((back - uv).abs().max_element() < 1e-4, "{uv} -> {back}");
        }
        // The map's centre looks down -Z, its top row up +Y.
        assert!((equirect_to_direction(Vec2::new(0.5, 0.5)) - Vec3::NEG_Z).length() < 1e-6);
        assert!((equirect_to_direction(Vec2::new(0.3, 0.0)) - Vec3::Y).length() < 1e-6);
    }

    #[test]
    fn range_window_falls_to_zero() {
        assert_eq!(range_window(5.0, 0.0), 1.0);
        assert_eq!(range_window(2.0, 2.0), 0.0);
        assert!(range_window(1.0, 2.0) > 0.8);
    }
}
