//! Lights: KHR_lights_punctual lights placed by their nodes, and the light table of
//! the flat scene (one entry per light with non-zero power, picked in proportion
//! to power through `light_cdf`).
//!
//! glTF intensities are used as radiometric quantities: point and spot lights have
//! radiant intensity `intensity * color`, directional lights irradiance.

use std::f32::consts::PI;

use glam::{Mat4, Vec3};

use super::flat::{self, Light};
use crate::sampling::distribution::build_cdf;

/// The kind of a punctual light; spot cones as cosines of the glTF angles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LightKind {
    Point,
    Spot { cos_inner: f32, cos_outer: f32 },
    Directional,
}

/// A punctual light in world space.
#[derive(Clone, Debug)]
pub struct SceneLight {
    pub name: Option<String>,
    pub kind: LightKind,
    /// `intensity * color`: radiant intensity, or irradiance for directional lights.
    pub radiance: Vec3,
    /// glTF `range`; 0 when unlimited.
    pub range: f32,
    pub position: Vec3,
    /// Direction the light travels (the node's -Z).
    pub direction: Vec3,
}

impl SceneLight {
    pub(crate) fn from_gltf(light: &gltf::khr_lights_punctual::Light, world: &Mat4) -> Self {
        use gltf::khr_lights_punctual::Kind;
        let kind = match light.kind() {
            Kind::Point => LightKind::Point,
            Kind::Directional => LightKind::Directional,
            Kind::Spot { inner_cone_angle, outer_cone_angle } => {
                LightKind::Spot { cos_inner: inner_cone_angle.cos(), cos_outer: outer_cone_angle.cos() }
            }
        };
        SceneLight {
            name: light.name().map(str::to_string),
            kind,
            radiance: Vec3::from(light.color()) * light.intensity(),
            range: light.range().unwrap_or(0.0),
            position: Vec3::ZERO,
            direction: -Vec3::Z,
        }
        .placed(world)
    }

    /// This light carried by a node with world transform `world` (from its origin,
    /// shining down its -Z).
    pub(crate) fn placed(&self, world: &Mat4) -> Self {
        SceneLight {
            position: world.transform_point3(Vec3::ZERO),
            direction: world.transform_vector3(-Vec3::Z).try_normalize().unwrap_or(-Vec3::Z),
            ..self.clone()
        }
    }

    fn flat(&self) -> Light {
        let (kind, cos_inner, cos_outer) = match self.kind {
            LightKind::Point => (flat::LIGHT_POINT, 0.0, 0.0),
            LightKind::Spot { cos_inner, cos_outer } => (flat::LIGHT_SPOT, cos_inner, cos_outer),
            LightKind::Directional => (flat::LIGHT_DIRECTIONAL, 0.0, 0.0),
        };
        Light {
            position: self.position.to_array(),
            kind,
            direction: self.direction.to_array(),
            index: flat::NONE,
            intensity: self.radiance.to_array(),
            cos_outer,
            cos_inner,
            range: self.range,
            ..Light::default()
        }
    }

    /// Emitted power; directional lights over a disc of the scene's bounding radius.
    fn power(&self, scene_radius: f32) -> f32 {
        let lum = luminance(self.radiance);
        match self.kind {
            LightKind::Point => 4.0 * PI * lum,
            LightKind::Spot { cos_inner, cos_outer } => 2.0 * PI * (1.0 - 0.5 * (cos_inner + cos_outer)) * lum,
            LightKind::Directional => PI * scene_radius * scene_radius * lum,
        }
    }
}

/// Rec. 709 luminance.
pub fn luminance(c: Vec3) -> f32 {
    0.2126 * c.x + 0.7152 * c.y + 0.0722 * c.z
}

/// An emissive triangle as the light table sees it.
pub(crate) struct EmissiveTriangle {
    /// Index in the final (BVH-ordered) triangle array.
    pub triangle: u32,
    pub emission: Vec3,
    pub area: f32,
    pub double_sided: bool,
}

/// The environment as the light table sees it.
pub(crate) struct EnvironmentLight {
    pub color: Vec3,
    /// Mean radiance luminance over the sphere (sin θ-weighted for maps).
    pub mean_luminance: f32,
}

/// Builds the light table: punctual lights, then emissive triangles, then the
/// environment, each kept only when its power is positive. Returns the lights, their
/// CDF, and the index of the environment light (or `NONE`). Triangles' `light`
/// fields are set to their entries.
pub(crate) fn light_table(
    punctual: &[SceneLight],
    emissive: &[EmissiveTriangle],
    environment: Option<&EnvironmentLight>,
    scene_radius: f32,
    triangles: &mut [flat::Triangle],
) -> (Vec<Light>, Vec<f32>, u32) {
    let mut lights = Vec::new();
    let mut powers = Vec::new();
    let mut push = |light: Light, power: f32, lights: &mut Vec<Light>| {
        let keep = power > 0.0 && power.is_finite();
        if keep {
            lights.push(light);
            powers.push(power);
        }
        keep
    };
    for light in punctual {
        push(light.flat(), light.power(scene_radius), &mut lights);
    }
    for tri in emissive {
        let sides = if tri.double_sided { 2.0 } else { 1.0 };
        let power = PI * tri.area * luminance(tri.emission) * sides;
        let light = Light {
            kind: flat::LIGHT_TRIANGLE,
            index: tri.triangle,
            intensity: tri.emission.to_array(),
            ..Light::default()
        };
        if push(light, power, &mut lights) {
            triangles[tri.triangle as usize].light = lights.len() as u32 - 1;
        }
    }
    let mut env_light = flat::NONE;
    if let Some(env) = environment {
        let power = 4.0 * PI * PI * scene_radius * scene_radius * env.mean_luminance;
        let light = Light {
            kind: flat::LIGHT_ENVIRONMENT,
            index: flat::NONE,
            intensity: env.color.to_array(),
            ..Light::default()
        };
        if push(light, power, &mut lights) {
            env_light = lights.len() as u32 - 1;
        }
    }
    let cdf = match build_cdf(&powers) {
        Some((cdf, total)) => {
            for (light, power) in lights.iter_mut().zip(&powers) {
                light.pick_pdf = (*power as f64 / total) as f32;
            }
            cdf
        }
        None => Vec::new(),
    };
    (lights, cdf, env_light)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(radiance: Vec3) -> SceneLight {
        SceneLight {
            name: None,
            kind: LightKind::Point,
            radiance,
            range: 0.0,
            position: Vec3::ZERO,
            direction: -Vec3::Z,
        }
    }

    #[test]
    fn powers_and_pick_probabilities() {
        let mut tris = vec![flat::Triangle { light: flat::NONE, ..Default::default() }; 2];
        let punctual = [point(Vec3::ONE), point(Vec3::ZERO)];
        let emissive = [
            EmissiveTriangle { triangle: 1, emission: Vec3::splat(2.0), area: 0.5, double_sided: true },
            EmissiveTriangle { triangle: 0, emission: Vec3::ZERO, area: 1.0, double_sided: false },
        ];
        let env = EnvironmentLight { color: Vec3::ONE, mean_luminance: 1.0 };
        let (lights, cdf, env_light) = light_table(&punctual, &emissive, Some(&env), 1.0, &mut tris);
        // The black point light and the black triangle are left out.
        assert_eq!(lights.len(), 3);
        assert_eq!(env_light, 2);
        assert_eq!(tris[1].light, 1);
        assert_eq!(tris[0].light, flat::NONE);
        let powers = [4.0 * PI, PI * 0.5 * 2.0 * 2.0, 4.0 * PI * PI];
        let total: f32 = powers.iter().sum();
        for (light, power) in lights.iter().zip(powers) {
            assert!((light.pick_pdf - power / total).abs() < 1e-6);
        }
        assert_eq!(*cdf.last().unwrap(), 1.0);
        assert!((cdf[0] - powers[0] / total).abs() < 1e-6);
    }

    #[test]
    fn spot_power_shrinks_with_the_cone() {
        let spot = |inner: f32, outer: f32| SceneLight {
            kind: LightKind::Spot { cos_inner: inner.cos(), cos_outer: outer.cos() },
            ..point(Vec3::ONE)
        };
        let full = spot(PI, PI).power(1.0);
        assert!((full - 4.0 * PI).abs() < 1e-5, "a 180° cone is a point light: {full}");
        assert!(spot(0.1, 0.2).power(1.0) < spot(0.3, 0.5).power(1.0));
    }
}
