//! Values that cannot be rendered are refused at load, naming the glTF field:
//! non-finite or out-of-range material factors, indices of refraction, light
//! intensities, ranges and cones, and camera parameters.
//!
//! Emission (materials and lights) is also bounded by [`MAX_RADIANCE`], so that a
//! path's radiance squared, summed over many samples, stays finite in f32.

use std::f32::consts::{FRAC_PI_2, PI};
use std::path::Path;

use gltf::Document;

use super::error::SceneError;
use super::material::{Anisotropy, Clearcoat, Iridescence, MaterialExtension, Sheen, TextureRef};
use crate::sampling::bsdf::MAX_IOR;

/// The largest emitted radiance (or light intensity) per colour channel.
pub const MAX_RADIANCE: f32 = 1e12;
/// The thickest thin film accepted (nm): far beyond where interference colours fade.
const MAX_FILM_THICKNESS: f32 = 1e5;

/// A check of one field: `Err(message)` names what is wrong with the value.
type Check = Result<(), String>;

fn finite_in(v: f32, lo: f32, hi: f32) -> Check {
    match v.is_finite() && (lo..=hi).contains(&v) {
        true => Ok(()),
        false => Err(format!("{v} is not a finite number in [{lo}, {hi}]")),
    }
}

fn finite(v: f32) -> Check {
    match v.is_finite() {
        true => Ok(()),
        false => Err(format!("{v} is not finite")),
    }
}

fn finite_from(v: f32, lo: f32) -> Check {
    match v.is_finite() && v >= lo {
        true => Ok(()),
        false => Err(format!("{v} is not a finite number ≥ {lo}")),
    }
}

fn all_in(values: &[f32], lo: f32, hi: f32) -> Check {
    values.iter().try_for_each(|&v| finite_in(v, lo, hi)).map_err(|m| format!("{values:?}: {m}"))
}

fn all_from(values: &[f32], lo: f32) -> Check {
    values.iter().try_for_each(|&v| finite_from(v, lo)).map_err(|m| format!("{values:?}: {m}"))
}

/// Checks an extension's texture references: `Err((".name.field", message))`.
fn check_texture_refs(doc: &Document, refs: &[(&str, Option<&TextureRef>)]) -> Result<(), (String, String)> {
    let textures = doc.textures().len();
    for (name, texture) in refs {
        let Some(texture) = texture else { continue };
        if texture.index >= textures {
            let message = format!("texture index {} is out of range ({textures} textures)", texture.index);
            return Err((format!(".{name}.index"), message));
        }
        finite(texture.scale).map_err(|message| (format!(".{name}.scale"), message))?;
    }
    Ok(())
}

/// Checks every material, light and camera of `doc` (`file` names it in
/// messages); returns warnings for values it renders differently from the file.
pub(crate) fn check_values(doc: &Document, file: &Path) -> Result<Vec<String>, SceneError> {
    let mut warnings = Vec::new();
    let fail = |field: String, message: String| SceneError::field(file, field, message);
    for m in doc.materials() {
        let i = m.index().unwrap_or(0);
        let field = |name: &str| format!("materials[{i}].{name}");
        let pbr = m.pbr_metallic_roughness();
        let checks: [(String, Check); 6] = [
            (field("pbrMetallicRoughness.baseColorFactor"), all_in(&pbr.base_color_factor(), 0.0, 1.0)),
            (field("pbrMetallicRoughness.metallicFactor"), finite_in(pbr.metallic_factor(), 0.0, 1.0)),
            (field("pbrMetallicRoughness.roughnessFactor"), finite_in(pbr.roughness_factor(), 0.0, 1.0)),
            (field("emissiveFactor"), all_from(&m.emissive_factor(), 0.0)),
            (field("alphaCutoff"), finite_from(m.alpha_cutoff().unwrap_or(0.5), 0.0)),
            (field("normalTexture.scale"), finite(m.normal_texture().map_or(1.0, |n| n.scale()))),
        ];
        for (field, check) in checks {
            check.map_err(|message| fail(field, message))?;
        }
        let strength_field = field("extensions.KHR_materials_emissive_strength.emissiveStrength");
        let strength = m.emissive_strength().unwrap_or(1.0);
        finite_from(strength, 0.0).map_err(|message| fail(strength_field.clone(), message))?;
        let emission = m.emissive_factor().map(|e| e * strength);
        if emission.iter().any(|&e| e.is_nan() || e > MAX_RADIANCE) {
            let message = format!(
                "emissiveFactor {:?} × emissiveStrength {strength:e} exceeds the largest renderable radiance {MAX_RADIANCE:e}",
                m.emissive_factor()
            );
            return Err(fail(strength_field, message));
        }
        if let Some(ior) = m.ior() {
            let ior_field = field("extensions.KHR_materials_ior.ior");
            // KHR_materials_ior: ior ≥ 1, or exactly 0 (an infinite IOR, Fresnel = 1).
            match ior {
                0.0 => warnings.push(format!(
                    "{ior_field} is 0 (an infinite index of refraction): rendered as the largest supported, {}",
                    MAX_IOR
                )),
                v if v.is_finite() && v >= 1.0 => {}
                v => return Err(fail(ior_field, format!("{v} is not a valid index of refraction (≥ 1, or 0)"))),
            }
        }
        if let Some(t) = m.transmission() {
            let f = field("extensions.KHR_materials_transmission.transmissionFactor");
            finite_in(t.transmission_factor(), 0.0, 1.0).map_err(|message| fail(f, message))?;
        }
        if let Some(v) = m.volume() {
            let f = field("extensions.KHR_materials_volume.thicknessFactor");
            finite_from(v.thickness_factor(), 0.0).map_err(|message| fail(f, message))?;
            let d = v.attenuation_distance();
            if d.is_nan() || d <= 0.0 {
                let f = field("extensions.KHR_materials_volume.attenuationDistance");
                return Err(fail(f, format!("{d} must be positive")));
            }
            let f = field("extensions.KHR_materials_volume.attenuationColor");
            all_in(&v.attenuation_color(), 0.0, 1.0).map_err(|message| fail(f, message))?;
        }
        if let Some(coat) = Clearcoat::of(&m) {
            let field = |name: &str| field(&format!("extensions.KHR_materials_clearcoat{name}"));
            let coat = coat.map_err(|message| fail(field(""), message))?;
            finite_in(coat.clearcoat_factor, 0.0, 1.0).map_err(|message| fail(field(".clearcoatFactor"), message))?;
            finite_in(coat.clearcoat_roughness_factor, 0.0, 1.0)
                .map_err(|message| fail(field(".clearcoatRoughnessFactor"), message))?;
            check_texture_refs(doc, &coat.textures()).map_err(|(name, message)| fail(field(&name), message))?;
        }
        if let Some(sheen) = Sheen::of(&m) {
            let field = |name: &str| field(&format!("extensions.KHR_materials_sheen{name}"));
            let sheen = sheen.map_err(|message| fail(field(""), message))?;
            all_in(&sheen.sheen_color_factor, 0.0, 1.0).map_err(|message| fail(field(".sheenColorFactor"), message))?;
            finite_in(sheen.sheen_roughness_factor, 0.0, 1.0)
                .map_err(|message| fail(field(".sheenRoughnessFactor"), message))?;
            check_texture_refs(doc, &sheen.textures()).map_err(|(name, message)| fail(field(&name), message))?;
        }
        if let Some(anisotropy) = Anisotropy::of(&m) {
            let field = |name: &str| field(&format!("extensions.KHR_materials_anisotropy{name}"));
            let anisotropy = anisotropy.map_err(|message| fail(field(""), message))?;
            finite_in(anisotropy.anisotropy_strength, 0.0, 1.0)
                .map_err(|message| fail(field(".anisotropyStrength"), message))?;
            if !anisotropy.anisotropy_rotation.is_finite() {
                let message = format!("{} is not a finite angle", anisotropy.anisotropy_rotation);
                return Err(fail(field(".anisotropyRotation"), message));
            }
            check_texture_refs(doc, &anisotropy.textures()).map_err(|(name, message)| fail(field(&name), message))?;
        }
        if let Some(film) = Iridescence::of(&m) {
            let field = |name: &str| field(&format!("extensions.KHR_materials_iridescence{name}"));
            let film = film.map_err(|message| fail(field(""), message))?;
            finite_in(film.iridescence_factor, 0.0, 1.0)
                .map_err(|message| fail(field(".iridescenceFactor"), message))?;
            finite_in(film.iridescence_ior, 1.0, MAX_IOR).map_err(|message| fail(field(".iridescenceIor"), message))?;
            let (min, max) = (film.iridescence_thickness_minimum, film.iridescence_thickness_maximum);
            finite_in(min, 0.0, MAX_FILM_THICKNESS)
                .map_err(|message| fail(field(".iridescenceThicknessMinimum"), message))?;
            finite_in(max, 0.0, MAX_FILM_THICKNESS)
                .map_err(|message| fail(field(".iridescenceThicknessMaximum"), message))?;
            check_texture_refs(doc, &film.textures()).map_err(|(name, message)| fail(field(&name), message))?;
        }
        if let Some(s) = m.specular() {
            let f = field("extensions.KHR_materials_specular.specularFactor");
            finite_in(s.specular_factor(), 0.0, 1.0).map_err(|message| fail(f, message))?;
            let f = field("extensions.KHR_materials_specular.specularColorFactor");
            all_from(&s.specular_color_factor(), 0.0).map_err(|message| fail(f, message))?;
        }
    }
    for light in doc.lights().into_iter().flatten() {
        let field = |name: &str| format!("extensions.KHR_lights_punctual.lights[{}].{name}", light.index());
        finite_from(light.intensity(), 0.0)
            .and_then(|()| finite_in(light.intensity(), 0.0, MAX_RADIANCE))
            .map_err(|m| fail(field("intensity"), m))?;
        all_from(&light.color(), 0.0).map_err(|m| fail(field("color"), m))?;
        if light.color().iter().any(|&c| c * light.intensity() > MAX_RADIANCE) {
            let message = format!("color × intensity exceeds the largest renderable intensity {MAX_RADIANCE:e}");
            return Err(fail(field("intensity"), message));
        }
        if let Some(range) = light.range() {
            if !(range > 0.0 && range.is_finite()) {
                return Err(fail(field("range"), format!("{range} must be finite and positive")));
            }
        }
        if let gltf::khr_lights_punctual::Kind::Spot { inner_cone_angle, outer_cone_angle } = light.kind() {
            finite_in(outer_cone_angle, 0.0, FRAC_PI_2).map_err(|m| fail(field("spot.outerConeAngle"), m))?;
            finite_in(inner_cone_angle, 0.0, outer_cone_angle).map_err(|m| fail(field("spot.innerConeAngle"), m))?;
        }
    }
    for camera in doc.cameras() {
        let field = |name: &str| format!("cameras[{}].{name}", camera.index());
        match camera.projection() {
            gltf::camera::Projection::Perspective(p) => {
                let yfov = p.yfov();
                if !(yfov > 0.0 && yfov < PI) {
                    return Err(fail(field("perspective.yfov"), format!("{yfov} is not in (0, π)")));
                }
                positive(p.znear()).map_err(|m| fail(field("perspective.znear"), m))?;
                if let Some(zfar) = p.zfar() {
                    above(zfar, p.znear()).map_err(|m| fail(field("perspective.zfar"), m))?;
                }
                if let Some(aspect) = p.aspect_ratio() {
                    positive(aspect).map_err(|m| fail(field("perspective.aspectRatio"), m))?;
                }
            }
            gltf::camera::Projection::Orthographic(o) => {
                for (name, v) in [("orthographic.xmag", o.xmag()), ("orthographic.ymag", o.ymag())] {
                    if !(v.is_finite() && v != 0.0) {
                        return Err(fail(field(name), format!("{v} must be finite and non-zero")));
                    }
                }
                finite_from(o.znear(), 0.0).map_err(|m| fail(field("orthographic.znear"), m))?;
                above(o.zfar(), o.znear()).map_err(|m| fail(field("orthographic.zfar"), m))?;
            }
        }
    }
    Ok(warnings)
}

fn positive(v: f32) -> Check {
    match v.is_finite() && v > 0.0 {
        true => Ok(()),
        false => Err(format!("{v} must be finite and positive")),
    }
}

fn above(v: f32, lower: f32) -> Check {
    match v.is_finite() && v > lower {
        true => Ok(()),
        false => Err(format!("{v} must be finite and greater than znear ({lower})")),
    }
}
