//! The environment a scene gets when the user names none (`--env`).
//!
//! A scene whose own lights carry a meaningful share of its light renders against
//! black, as a lighting artist set it up; any other gets a uniform white
//! environment of radiance 1 (its emitters still shine), so that a product shot
//! whose only emitters are small lamps or decals never renders as a black frame.
//! The rule, measured once on the rest pose so that every frame of a shot gets the
//! same answer:
//!
//! - a punctual light (KHR_lights_punctual) that emits: black;
//! - else emissive surfaces whose power is at least [`MEANINGFUL_SHARE`] of the
//!   power the white environment would send into the scene's bounding sphere
//!   (`4π²R²`): black;
//! - else white.
//!
//! An emissive surface's power is `π · area · luminance(emission) · sides`, its
//! emission weighted by the mean of its emissive texture, so a helmet painted with
//! a dark emissive map counts the few lamps on it rather than its whole area.

use std::f32::consts::PI;
use std::fmt;

use glam::Vec3;

use super::lights::luminance;
use super::texture::decode_texel;
use super::{flat, Scene};

/// Emitters at or above this fraction of the white environment's power light the
/// scene on their own. The Cornell box's ceiling lamp gives 5.9 %, the emissive
/// cubes of EmissiveStrengthTest 7.1 %, a lone emissive triangle 16 %; the
/// emissive labels of ClearCoatTest 2.7 % and of TransmissionTest 1.1 %.
pub const MEANINGFUL_SHARE: f32 = 0.04;

/// Which default environment a scene gets, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct DefaultLight {
    /// Uniform white of radiance 1 (true) or black.
    pub white: bool,
    /// The scene's own lights, as the rule weighs them.
    pub lit_by: LitBy,
}

/// What the rule found.
#[derive(Clone, Debug, PartialEq)]
pub enum LitBy {
    /// Punctual lights that emit (how many).
    Punctual(usize),
    /// Emissive surfaces, with their share of the white environment's power.
    Emitters(f32),
    /// No lights at all.
    Nothing,
}

impl fmt::Display for DefaultLight {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let env = if self.white { "a uniform white environment of radiance 1" } else { "a black environment" };
        let share = MEANINGFUL_SHARE * 100.0;
        match self.lit_by {
            LitBy::Punctual(n) => write!(f, "{env}, as it has {n} punctual light(s)"),
            LitBy::Emitters(s) if self.white => write!(
                f,
                "{env} (its emitters shine too): its emissive surfaces give only {:.3} % of the light a white \
                 environment would, under the {share} % that lights a scene on its own",
                s * 100.0
            ),
            LitBy::Emitters(s) => write!(
                f,
                "{env}: its emissive surfaces give {:.1} % of the light a white environment would, at least \
                 the {share} % that lights a scene on its own",
                s * 100.0
            ),
            LitBy::Nothing => write!(f, "{env}, as it has no lights"),
        }
    }
}

/// The default environment for `scene` in its rest pose.
pub(crate) fn choose(scene: &Scene) -> DefaultLight {
    let punctual = scene.lights.iter().filter(|l| luminance(l.radiance) > 0.0).count();
    if punctual > 0 {
        return DefaultLight { white: false, lit_by: LitBy::Punctual(punctual) };
    }
    let mut texture_means = vec![None; scene.textures.len()];
    let mut emitted = 0.0f64;
    let (mut lo, mut hi) = (Vec3::INFINITY, Vec3::NEG_INFINITY);
    for instance in &scene.instances {
        for primitive in &scene.meshes[instance.mesh].primitives {
            let g = &primitive.geometry;
            let world: Vec<Vec3> = g.positions.iter().map(|&p| instance.world.transform_point3(p)).collect();
            for p in &world {
                (lo, hi) = (lo.min(*p), hi.max(*p));
            }
            let Some(material) = primitive.material.map(|m| &scene.materials[m]) else { continue };
            if luminance(Vec3::from(material.emission)) <= 0.0 {
                continue;
            }
            let texture = material.emissive_tex.texture as usize;
            let mean = match texture_means.get_mut(texture) {
                Some(mean) => *mean.get_or_insert_with(|| texture_mean(scene, texture)),
                None => Vec3::ONE,
            };
            let radiance = luminance(Vec3::from(material.emission) * mean);
            let sides = if material.flags & flat::MAT_DOUBLE_SIDED != 0 { 2.0 } else { 1.0 };
            let area: f32 = g
                .triangles
                .iter()
                .map(|t| {
                    let [a, b, c] = t.map(|i| world[i as usize]);
                    0.5 * (b - a).cross(c - a).length()
                })
                .sum();
            emitted += f64::from(PI * area * radiance * sides);
        }
    }
    if emitted <= 0.0 || !emitted.is_finite() {
        return DefaultLight { white: true, lit_by: LitBy::Nothing };
    }
    let radius = 0.5 * (hi - lo).length();
    let white_power = 4.0 * PI * PI * radius * radius;
    let share = if white_power > 0.0 { (emitted / f64::from(white_power)) as f32 } else { f32::INFINITY };
    DefaultLight { white: share < MEANINGFUL_SHARE, lit_by: LitBy::Emitters(share) }
}

/// Mean linear RGB of texture `index`'s image (sRGB decoded where the texture is).
fn texture_mean(scene: &Scene, index: usize) -> Vec3 {
    let texture = &scene.textures[index];
    let image = &scene.images[texture.image];
    let sum = image.texels.iter().fold(Vec3::ZERO, |sum, &texel| sum + decode_texel(texel, texture.flags).truncate());
    sum / image.texels.len().max(1) as f32
}
