//! The glTF metallic-roughness BSDF with `KHR_materials_transmission`,
//! `KHR_materials_ior`, `KHR_materials_specular` (factor and colour),
//! `KHR_materials_volume` (thin-walled or refracting),
//! `KHR_materials_sheen`, `KHR_materials_clearcoat`,
//! `KHR_materials_anisotropy` and `KHR_materials_iridescence`.
//!
//! The structure is Appendix B of the glTF 2.0 specification:
//!
//! ```text
//! f = mix(dielectric, metal, metallic)
//! metal      = F_schlick(base_color, wo·h) · specular
//! dielectric = fresnel_mix(ior, base = mix(diffuse, transmission, t), layer = specular)
//! ```
//!
//! with specular = D G2 / (4 |cos θo| |cos θi|) (GGX, height-correlated Smith,
//! α = max(roughness², MIN_ALPHA)), diffuse = base_color / π, F0 of the
//! dielectric ((ior − 1) / (ior + 1))² and Schlick's F at wo·h everywhere. The
//! transmission lobe, tinted by base_color and weighted (1 − F(wo·h)), is the
//! rough dielectric BTDF of Walter et al. 2007 (refracting) or, for
//! thin-walled materials, the specular lobe mirrored through the surface plane
//! (no bending). glTF materials without `KHR_materials_volume` are thin-walled;
//! volume attenuation inside refracting ones is the integrator's business.
//! `KHR_materials_specular`'s factor s scales the dielectric layer's F0 and F90
//! alike, so its Fresnel term, its albedo E and E_avg are s times those of
//! the full layer (and the base below it receives 1 − s·F). Its colour sets
//! F0 per channel, min(F0(ior) colour, 1); the base receives one minus the
//! largest channel's F, E and E_avg (the extension's `fresnel_mix` weighs it
//! by max(F)), so the largest channel keeps the untinted layer's white
//! furnace and the others lose what their weaker reflection does not return.
//!
//! **Clearcoat.** The extension's `fresnel_coat` mixes the base and a GGX coat
//! (ior 1.5, its own roughness and normal) by weight × F(N·V). Tessera takes
//! the coat as a compensated GGX lobe like the dielectric layer (F at wo·h, in
//! the coat's frame) and scales the base below it by 1 − E_c(wo), the coat's
//! directional albedo seen from wo (albedo scaling, as the glTF Sample Viewer
//! does for sheen): for a smooth coat E_c is the extension's weight × F(N·V),
//! and for a rough one the sum still never exceeds what a white base returns.
//! The coat is not seen from inside a refracting material.
//!
//! **Sheen.** Between the coat and the base lies the Charlie sheen of
//! `sheen.rs`: f = coat + (1 − E_c(wo)) (sheen + (1 − max(sheenColor) E_s(wo)) base),
//! E_s the white sheen lobe's directional albedo (the extension's albedo
//! scaling). The smoothest sheens' fitted masking lets E_s exceed one within
//! a few degrees of the horizon; there the lobe is divided by E_s, so that a
//! white sheen never returns more light than it receives. Like the coat, the
//! sheen is not seen from inside a refracting material. It is sampled with
//! the diffuse lobe's cosine distribution (it is as broad), so the two share
//! one entry in the lobe probabilities.
//!
//! **Anisotropy.** `KHR_materials_anisotropy` stretches the base's GGX lobe
//! (metal, dielectric layer and transmission) along the local x axis, which
//! the caller turns to the extension's direction: α_x = mix(α, 1, strength²),
//! α_y = α, sampled with the anisotropic visible-normal distribution. The
//! albedo tables are read at √(α_x α_y), as Cycles does, so the energy
//! compensation is that of an isotropic lobe of the same mean roughness: a
//! white metal at strength 1 keeps as little as 53% of the light (what single
//! scattering keeps of a lobe stretched to α = 1), and the layered dielectric
//! lies within 0.80–1.06 (see the anisotropic furnace test).
//!
//! **Iridescence.** `KHR_materials_iridescence`'s thin film (`thin_film.rs`)
//! replaces Schlick's Fresnel of the metal and of the dielectric layer by
//! mix(F, F_film, factor) where the film faces the viewer (not from inside a
//! refracting material); transmission keeps Schlick's. The albedo tables,
//! which know only Schlick's F, see the layer at the film's largest normal
//! reflectance mixed in by the factor: the base receives what such a layer
//! lets through. Interference that reflects more at grazing angles than at
//! normal incidence then returns up to 8% more than arrives (see the
//! thin-film furnace test).
//!
//! Where Tessera departs from Appendix B, and why:
//! - **Diffuse under the specular layer.** `fresnel_mix` weights the base by
//!   1 − F(wo·h), which is near 1 − F0 for most wi even where the specular
//!   layer reflects most of the light, so a smooth white dielectric reflects up
//!   to 1.44× what it receives at grazing angles. Tessera weights the diffuse
//!   lobe by (1 − E(cos θo)) (1 − E(cos θi)) / (1 − E_avg), where E is the
//!   directional albedo of the (compensated) specular layer and E_avg its
//!   hemispherical average (Kelemen and Szirmay-Kalos 2001; Kulla and Conty
//!   2017): reciprocal, and a white base under the layer reflects exactly the
//!   light the layer lets through, at every angle and roughness.
//! - **Multiple scattering.** Single-scattering GGX loses up to ~40% of the
//!   light on rough metals. Specular lobes are scaled by
//!   1 + F0 (1 − E1(cos θo)) / E1(cos θo), where E1 is the lobe's albedo with
//!   F = 1 (Turquin 2019; F0 is the base colour for metal and the dielectric's
//!   F0 for the layer): a white metal reflects all the light. The factor
//!   depends on wo alone, so specular reflection is reciprocal only up to it
//!   (as in Cycles and Filament). Transmission is not compensated.
//! - **Total internal reflection.** Schlick's formula does not know it; seen
//!   from inside a refracting material F is evaluated at the outside angle and
//!   is 1 beyond the critical angle (see `fresnel_schlick_dielectric`).
//!
//! E1, the Schlick weight and the averages come from the table in
//! `ggx_albedo.rs`, generated by quadrature in this repository.
//!
//! Conventions: directions are in the local shading frame (z = shading normal),
//! unit length, pointing away from the surface; `wo` points towards the camera
//! and `wi` towards the light. `eval` returns f(wo, wi) |cos θi| (Mitsuba's
//! convention). The surface is two-sided: for `wo.z < 0` both directions are
//! mirrored to the upper side, and a refracting dielectric then sees the
//! inverted relative index (light inside the object).
//!
//! Transport direction: the integrator traces paths from the camera and
//! estimates radiance, so the refraction BTDF is the radiance BTDF — pbrt-v4's
//! `TransportMode::Radiance`: f(wo, wi) carries the factor (η_o / η_i)² relative
//! to the importance BTDF, where η_o and η_i are the indices on the sides of
//! wo and wi. Radiance entering a denser medium is concentrated, so for a
//! camera inside glass the directional albedo legitimately exceeds one, and
//! f(wi, wo) = (η_i / η_o)² f(wo, wi) rather than plain reciprocity.
//!
//! Sampling picks one lobe with probabilities proportional to the lobes'
//! albedos seen from `wo` — specular ∝ metallic E_metal + (1 − metallic) E,
//! diffuse and transmission ∝ (1 − metallic)(1 − E) mean(base_color) split by
//! transmission — so `pdf` is the closed-form mixture Σ p_lobe pdf_lobe(wi)
//! and `weight` = eval / pdf of the whole BSDF. Reflection and transmission
//! sample visible GGX normals, diffuse samples the cosine hemisphere.

// `!(x > 0.0)` is the NaN-rejecting test: true for NaN, unlike `x <= 0.0`.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::f32::consts::FRAC_1_PI;

use glam::{Vec2, Vec3};

use super::ggx_albedo::{
    albedo_lookup, dielectric_albedo, dielectric_average, multiscatter_lost, roughness_row, TABLE,
};
use super::microfacet::{
    dielectric_f0, dielectric_schlick_weight, fresnel_schlick, fresnel_schlick_dielectric, ggx_d, ggx_vndf_pdf,
    reflect, refract, roughness_to_alpha, sample_ggx_vndf, schlick_mix, smith_g2,
};
use super::sheen::{sheen_albedo, sheen_alpha, sheen_lobe, sheen_row, TABLE as SHEEN_TABLE};
use super::thin_film::iridescent_fresnel;
use super::warp::{cosine_hemisphere_pdf, square_to_cosine_hemisphere, Frame};

/// Smallest index of refraction of a refracting dielectric: at exactly 1 the
/// interface is invisible and transmission becomes a delta lobe.
pub const MIN_REFRACTING_IOR: f32 = 1.01;
/// Largest index of refraction accepted (beyond all common materials).
pub const MAX_IOR: f32 = 10.0;
/// KHR_materials_clearcoat's index of refraction.
pub const COAT_IOR: f32 = 1.5;

/// A glTF material at one shading point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bsdf {
    pub base_color: Vec3,
    pub metallic: f32,
    /// GGX α (see [`roughness_to_alpha`]) along the local x axis and along y:
    /// anisotropic along x (KHR_materials_anisotropy's direction).
    pub alpha: Vec2,
    /// Index of refraction of the material (the outside is taken to be 1).
    pub ior: f32,
    pub transmission: f32,
    /// Thin-walled: transmission passes straight through without bending.
    pub thin: bool,
    /// Row coordinate of the roughness in the albedo table.
    pub albedo_row: f32,
    /// Normal reflectance of the dielectric layer before `specular` as the
    /// albedo tables see it, which the base below does not receive: the largest
    /// channel of `layer_f0`, or the thin film's where there is one.
    pub f0: f32,
    /// The layer's normal reflectance per channel (KHR_materials_specular's
    /// colour tints it).
    pub layer_f0: Vec3,
    /// KHR_materials_specular's factor: the dielectric layer's strength.
    pub specular: f32,
    /// 1 / (1 − E_avg) of the dielectric layer: the diffuse lobe's normalisation.
    pub diffuse_scale: f32,
    /// KHR_materials_clearcoat's weight (0: no coat).
    pub coat: f32,
    /// GGX α of the coat.
    pub coat_alpha: f32,
    /// Row coordinate of the coat's roughness in the albedo table.
    pub coat_row: f32,
    /// The coat's normal in the local shading frame (z is the base's normal).
    pub coat_normal: Vec3,
    /// KHR_materials_sheen's colour (black: no sheen).
    pub sheen_color: Vec3,
    /// Charlie α of the sheen.
    pub sheen_alpha: f32,
    /// Row coordinate of the sheen's roughness in its albedo table.
    pub sheen_row: f32,
    /// KHR_materials_iridescence's factor (0: no film), the film's index and
    /// its thickness in nanometres.
    pub iridescence: f32,
    pub film_ior: f32,
    pub film_thickness: f32,
}

/// A direction sampled from a [`Bsdf`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BsdfSample {
    /// Direction towards the light, local frame.
    pub wi: Vec3,
    /// eval(wo, wi) / pdf(wo, wi): the path throughput factor.
    pub weight: Vec3,
    /// Solid-angle density of `wi`, as [`Bsdf::pdf`].
    pub pdf: f32,
    /// `wi` is on the other side of the surface from `wo`.
    pub transmitted: bool,
}

/// The GGX albedos at one direction: (E1, W) from the table, what single
/// scattering loses over what it keeps ((1 − E1) / E1), and the compensated
/// dielectric layer's albedo E; the coat's albedo E_c (weight included) and its
/// lobe's (1 − E1) / E1; the white sheen lobe's albedo min(E_s, 1) and the
/// factor 1 / max(E_s, 1) that keeps it there.
#[derive(Clone, Copy, Debug)]
struct Albedo {
    lobe: Vec2,
    lost: f32,
    layer: f32,
    coat: f32,
    coat_lost: f32,
    sheen: f32,
    sheen_norm: f32,
}

/// A [`Bsdf`] seen from one direction `wo`: what every evaluation and sample
/// from there shares — the mirroring to the upper side, one albedo lookup and
/// the lobe probabilities — computed once per shading point.
#[derive(Clone, Copy, Debug)]
pub struct BsdfView {
    bsdf: Bsdf,
    /// `wo` mirrored to the upper side.
    wo: Vec3,
    mirrored: bool,
    /// Index beyond the surface over index on `wo`'s side.
    eta: f32,
    albedo: Albedo,
    /// The coat's normal, mirrored with `wo`.
    coat_normal: Vec3,
    /// Probabilities of sampling [coat, specular, cosine (diffuse and sheen), transmission].
    lobes: [f32; 4],
    /// False when `wo` lies in the surface plane (or is NaN): nothing scatters.
    valid: bool,
}

/// Mirror image through the surface plane.
#[inline]
fn mirror_z(v: Vec3) -> Vec3 {
    Vec3::new(v.x, v.y, -v.z)
}

/// `x` clamped to [0, 1], written so that NaN maps to the lower bound.
#[inline]
fn unit(x: f32) -> f32 {
    if x > 0.0 {
        x.min(1.0)
    } else {
        0.0
    }
}

/// The isotropic α at which the albedo tables are read: √(α.x α.y), exactly α
/// when isotropic.
#[inline]
fn table_alpha(alpha: Vec2) -> f32 {
    (alpha.x * alpha.y).sqrt()
}

/// 1 / (1 − E_avg) of a dielectric layer of strength `specular` and normal
/// reflectance `f0` at albedo-table row `row`: the diffuse lobe's normalisation.
#[inline]
fn diffuse_scale(specular: f32, row: f32, f0: f32) -> f32 {
    1.0 / (1.0 - specular * dielectric_average(&TABLE, row, f0)).max(1e-3)
}

#[inline]
fn mean3(v: Vec3) -> f32 {
    (v.x + v.y + v.z) * (1.0 / 3.0)
}

impl Bsdf {
    /// A BSDF from glTF parameters, clamped to their valid ranges (not-a-number
    /// inputs become the lower bound): colour, metallic, roughness and
    /// transmission to [0, 1], ior to [1, MAX_IOR] — [MIN_REFRACTING_IOR,
    /// MAX_IOR] for a refracting material.
    pub fn new(base_color: Vec3, metallic: f32, roughness: f32, ior: f32, transmission: f32, thin: bool) -> Bsdf {
        Bsdf::with_specular(base_color, metallic, roughness, ior, transmission, thin, 1.0)
    }

    /// [`Bsdf::new`] with KHR_materials_specular's factor (clamped to [0, 1]).
    pub fn with_specular(
        base_color: Vec3,
        metallic: f32,
        roughness: f32,
        ior: f32,
        transmission: f32,
        thin: bool,
        specular: f32,
    ) -> Bsdf {
        let specular = unit(specular);
        let transmission = unit(transmission);
        let min_ior = if transmission > 0.0 && !thin { MIN_REFRACTING_IOR } else { 1.0 };
        let roughness = unit(roughness);
        let ior = ior.max(min_ior).min(MAX_IOR);
        let albedo_row = roughness_row(roughness);
        let f0 = dielectric_f0(ior);
        Bsdf {
            base_color: Vec3::new(unit(base_color.x), unit(base_color.y), unit(base_color.z)),
            metallic: unit(metallic),
            alpha: Vec2::splat(roughness_to_alpha(roughness)),
            ior,
            transmission,
            thin,
            albedo_row,
            f0,
            layer_f0: Vec3::splat(f0),
            specular,
            diffuse_scale: diffuse_scale(specular, albedo_row, f0),
            coat: 0.0,
            coat_alpha: roughness_to_alpha(0.0),
            coat_row: 0.0,
            coat_normal: Vec3::Z,
            sheen_color: Vec3::ZERO,
            sheen_alpha: sheen_alpha(0.0),
            sheen_row: 0.0,
            iridescence: 0.0,
            film_ior: 1.0,
            film_thickness: 0.0,
        }
    }

    /// This BSDF under a thin film (KHR_materials_iridescence): the specular
    /// Fresnel of metal and dielectric layer mixes towards the film's by
    /// `factor` (clamped to [0, 1]); `ior` is clamped to [1, MAX_IOR] and
    /// `thickness` (nm) to at least 0. The base below the layer receives what
    /// a layer of the film's largest normal reflectance lets through.
    pub fn with_iridescence(self, factor: f32, ior: f32, thickness: f32) -> Bsdf {
        // Not-a-number indices become 1, as on the GPU backends.
        let film_ior = if ior > 1.0 { ior.min(MAX_IOR) } else { 1.0 };
        let (iridescence, film_thickness) = (unit(factor), thickness.max(0.0));
        let film = iridescent_fresnel(1.0, film_ior, film_thickness, self.layer_f0).max_element();
        let f0 = self.f0 + (film - self.f0) * iridescence;
        let diffuse_scale = diffuse_scale(self.specular, self.albedo_row, f0);
        Bsdf { f0, diffuse_scale, iridescence, film_ior, film_thickness, ..self }
    }

    /// This BSDF with KHR_materials_specular's `color` (negative and
    /// not-a-number channels become 0): the dielectric layer's normal
    /// reflectance becomes min(F0(ior) color, 1) per channel. Light the layer
    /// does not reflect reaches the base as the extension's `fresnel_mix`
    /// weighs it: by one minus the largest channel.
    pub fn with_specular_color(self, color: Vec3) -> Bsdf {
        let layer_f0 = (dielectric_f0(self.ior) * color.max(Vec3::ZERO)).min(Vec3::ONE);
        let f0 = layer_f0.max_element();
        Bsdf { f0, layer_f0, diffuse_scale: diffuse_scale(self.specular, self.albedo_row, f0), ..self }
    }

    /// This BSDF under a clear coat of `weight` and `roughness` (clamped to
    /// [0, 1]) whose unit normal is `normal` in the local shading frame.
    pub fn with_coat(self, weight: f32, roughness: f32, normal: Vec3) -> Bsdf {
        let roughness = unit(roughness);
        Bsdf {
            coat: unit(weight),
            coat_alpha: roughness_to_alpha(roughness),
            coat_row: roughness_row(roughness),
            coat_normal: normal,
            ..self
        }
    }

    /// This BSDF made anisotropic by KHR_materials_anisotropy's `strength`
    /// (clamped to [0, 1]) along the local x axis: α.x = mix(α, 1, strength²),
    /// α.y = α. The albedo tables are read at the geometric mean √(α.x α.y),
    /// as Cycles does, so the energy compensation is that of an isotropic
    /// surface of the same mean roughness.
    pub fn with_anisotropy(self, strength: f32) -> Bsdf {
        let s = unit(strength);
        let alpha_y = self.alpha.y;
        let alpha = Vec2::new(alpha_y + (1.0 - alpha_y) * s * s, alpha_y);
        let albedo_row = roughness_row(table_alpha(alpha).sqrt());
        Bsdf { alpha, albedo_row, diffuse_scale: diffuse_scale(self.specular, albedo_row, self.f0), ..self }
    }

    /// This BSDF under a sheen of `color` and `roughness` (clamped to [0, 1]
    /// and [MIN_SHEEN_ROUGHNESS, 1]).
    pub fn with_sheen(self, color: Vec3, roughness: f32) -> Bsdf {
        Bsdf {
            sheen_color: Vec3::new(unit(color.x), unit(color.y), unit(color.z)),
            sheen_alpha: sheen_alpha(roughness),
            sheen_row: sheen_row(roughness),
            ..self
        }
    }

    /// `wo` mirrored to the upper hemisphere, whether it was mirrored, and the
    /// relative index η (index beyond the surface over index on wo's side).
    #[inline]
    fn upper_hemisphere(&self, wo: Vec3) -> (Vec3, bool, f32) {
        if wo.z >= 0.0 {
            return (wo, false, self.ior);
        }
        let inside = self.transmission > 0.0 && !self.thin;
        (mirror_z(wo), true, if inside { 1.0 / self.ior } else { self.ior })
    }

    /// The albedos at cosine `cos` > 0.
    #[inline]
    fn albedo(&self, cos: f32) -> Albedo {
        let lobe = albedo_lookup(&TABLE, self.albedo_row, table_alpha(self.alpha), cos);
        let layer = self.specular * dielectric_albedo(lobe, self.f0);
        Albedo { lobe, lost: multiscatter_lost(lobe), layer, coat: 0.0, coat_lost: 0.0, sheen: 0.0, sheen_norm: 0.0 }
    }

    /// `o` with the sheen's albedos at view cosine `cos` > 0.
    #[inline]
    fn with_sheen_albedo(&self, o: Albedo, cos: f32) -> Albedo {
        let e = sheen_albedo(&SHEEN_TABLE, self.sheen_row, cos);
        Albedo { sheen: e.min(1.0), sheen_norm: 1.0 / e.max(1.0), ..o }
    }

    /// `o` with the coat's albedos at cosine `cos` (in the coat's frame) > 0.
    #[inline]
    fn with_coat_albedo(&self, o: Albedo, cos: f32) -> Albedo {
        let lobe = albedo_lookup(&TABLE, self.coat_row, self.coat_alpha, cos);
        let coat = self.coat * dielectric_albedo(lobe, dielectric_f0(COAT_IOR));
        Albedo { coat, coat_lost: multiscatter_lost(lobe), ..o }
    }

    /// Fresnel reflectance of the dielectric layer at wo·h (see `upper_hemisphere`
    /// for η): its largest channel, which the base below does not receive.
    #[inline]
    fn layer_fresnel(&self, wo_h: f32, eta: f32) -> f32 {
        self.specular * schlick_mix(self.f0, dielectric_schlick_weight(wo_h, eta))
    }

    /// The BSDF seen from `wo`, for any number of evaluations and samples.
    pub fn view(&self, wo: Vec3) -> BsdfView {
        let (wo, mirrored, eta) = self.upper_hemisphere(wo);
        // Also false for NaN.
        let valid = wo.z > 0.0;
        let mut albedo = self.albedo(if valid { wo.z } else { 1.0 });
        // Seen from behind, the coat turns with the surface (normal −n), then
        // everything is mirrored through the surface plane.
        let coat_normal = if mirrored { -mirror_z(self.coat_normal) } else { self.coat_normal };
        // Seen from inside a refracting material there is no coat and no sheen.
        let outside = eta == self.ior;
        let cos_coat = wo.dot(coat_normal);
        if self.coat > 0.0 && outside && cos_coat > 0.0 {
            albedo = self.with_coat_albedo(albedo, cos_coat);
        }
        if self.sheen_color.max_element() > 0.0 && outside && valid {
            albedo = self.with_sheen_albedo(albedo, wo.z);
        }
        let lobes = self.lobe_probabilities(albedo);
        BsdfView { bsdf: *self, wo, mirrored, eta, albedo, coat_normal, lobes, valid }
    }

    /// Probabilities of sampling [coat, specular, cosine (diffuse and sheen), transmission] given
    /// the albedos seen from `wo`; they sum to one.
    #[inline]
    fn lobe_probabilities(&self, o: Albedo) -> [f32; 4] {
        let c = self.base_color;
        let dielectric = 1.0 - self.metallic;
        // The metal's albedo: F0 (E1 − W) + W per channel, compensated.
        let metal = (c * (o.lobe.x - o.lobe.y) + Vec3::splat(o.lobe.y)) * (Vec3::ONE + c * o.lost);
        let specular = self.metallic * mean3(metal) + dielectric * o.layer;
        let refracted = dielectric * (1.0 - o.layer).max(0.0) * mean3(c);
        let diffuse = refracted * (1.0 - self.transmission);
        let transmission = refracted * self.transmission;
        // The base receives what the coat, then the sheen, let through.
        let kept = 1.0 - o.coat;
        let (sheen, under) = (mean3(self.sheen_color) * o.sheen, self.sheen_scaling(o));
        let total = o.coat + kept * (sheen + under * (specular + diffuse + transmission));
        if !(total > 0.0) {
            return [0.0, 1.0, 0.0, 0.0];
        }
        let cosine = sheen + under * diffuse;
        [o.coat / total, kept * under * specular / total, kept * cosine / total, kept * under * transmission / total]
    }

    /// The sheen's albedo scaling of the base: 1 − max(sheenColor) E_s(wo).
    #[inline]
    fn sheen_scaling(&self, o: Albedo) -> f32 {
        1.0 - self.sheen_color.max_element() * o.sheen
    }

    /// f(wo, wi) |cos θi|.
    pub fn eval(&self, wo: Vec3, wi: Vec3) -> Vec3 {
        self.eval_pdf(wo, wi).0
    }

    /// Solid-angle density with which [`Bsdf::sample`] returns `wi`.
    pub fn pdf(&self, wo: Vec3, wi: Vec3) -> f32 {
        self.eval_pdf(wo, wi).1
    }

    /// [`Bsdf::eval`] and [`Bsdf::pdf`] together (they share most of the work).
    pub fn eval_pdf(&self, wo: Vec3, wi: Vec3) -> (Vec3, f32) {
        self.view(wo).eval_pdf(wi)
    }

    /// Samples `wi` given `wo`: see [`BsdfView::sample`].
    pub fn sample(&self, wo: Vec3, u_lobe: f32, u: Vec2) -> Option<BsdfSample> {
        self.view(wo).sample(u_lobe, u)
    }

    /// eval and pdf for `wo.z > 0`, with the albedos `o` seen from `wo`, the
    /// coat's normal and the lobe probabilities: the coat over the base it lets
    /// light through to.
    fn eval_pdf_upper(
        &self,
        wo: Vec3,
        wi: Vec3,
        eta: f32,
        o: Albedo,
        coat_normal: Vec3,
        lobes: [f32; 4],
    ) -> (Vec3, f32) {
        let (mut base, base_pdf) = self.eval_pdf_base(wo, wi, eta, o, [lobes[1], lobes[2], lobes[3]]);
        if o.sheen > 0.0 {
            base *= self.sheen_scaling(o);
            if wi.z > 0.0 {
                base += self.sheen_color * (o.sheen_norm * sheen_lobe(wo, wi, self.sheen_alpha));
            }
        }
        if !(o.coat > 0.0) {
            return (base, base_pdf);
        }
        let frame = Frame::from_normal(coat_normal);
        let (coat, coat_pdf) =
            if wi.z > 0.0 { self.eval_pdf_coat(frame.to_local(wo), frame.to_local(wi), o) } else { (0.0, 0.0) };
        (Vec3::splat(coat) + base * (1.0 - o.coat), lobes[0] * coat_pdf + base_pdf)
    }

    /// The coat's f cos θi (in its own frame) and its lobe's density.
    fn eval_pdf_coat(&self, wo: Vec3, wi: Vec3, o: Albedo) -> (f32, f32) {
        if !(wo.z > 0.0 && wi.z > 0.0) {
            return (0.0, 0.0);
        }
        let h = (wo + wi).normalize();
        let wo_h = wo.dot(h);
        let fresnel = fresnel_schlick_dielectric(wo_h, COAT_IOR) * (1.0 + dielectric_f0(COAT_IOR) * o.coat_lost);
        let alpha = Vec2::splat(self.coat_alpha);
        let lobe = ggx_d(h, alpha) * smith_g2(wo, wi, alpha) / (4.0 * wo.z);
        (self.coat * fresnel * lobe, ggx_vndf_pdf(wo, h, alpha) / (4.0 * wo_h))
    }

    /// eval and pdf of the base (without the coat's and the sheen's scaling)
    /// with the probabilities of [specular, cosine (diffuse and sheen), transmission].
    fn eval_pdf_base(&self, wo: Vec3, wi: Vec3, eta: f32, o: Albedo, lobes: [f32; 3]) -> (Vec3, f32) {
        let [p_specular, p_diffuse, p_transmission] = lobes;
        if wi.z > 0.0 {
            self.eval_pdf_reflection(wo, wi, eta, o, p_specular, p_diffuse)
        } else if p_transmission == 0.0 {
            (Vec3::ZERO, 0.0)
        } else if self.thin {
            self.eval_pdf_thin_transmission(wo, wi, eta, p_transmission)
        } else {
            self.eval_pdf_refraction(wo, wi, eta, p_transmission)
        }
    }

    /// Metal, dielectric specular and diffuse; `wo.z > 0`, `wi.z > 0`.
    fn eval_pdf_reflection(
        &self,
        wo: Vec3,
        wi: Vec3,
        eta: f32,
        o: Albedo,
        p_specular: f32,
        p_diffuse: f32,
    ) -> (Vec3, f32) {
        let h = (wo + wi).normalize();
        let (specular, diffuse) = self.reflection(wo, wi, h, eta, o);
        let pdf =
            p_specular * ggx_vndf_pdf(wo, h, self.alpha) / (4.0 * wo.dot(h)) + p_diffuse * cosine_hemisphere_pdf(wi.z);
        (specular + diffuse, pdf)
    }

    /// The specular (metal and dielectric layer, compensated) and diffuse
    /// parts of f(wo, wi) cos θi with half vector `h`; `wo.z > 0`, `wi.z > 0`.
    fn reflection(&self, wo: Vec3, wi: Vec3, h: Vec3, eta: f32, o: Albedo) -> (Vec3, Vec3) {
        let wo_h = wo.dot(h);
        let dielectric = 1.0 - self.metallic;
        let f0 = self.layer_f0;
        let w = dielectric_schlick_weight(wo_h, eta);
        let mut metal_fresnel = fresnel_schlick(self.base_color, wo_h);
        let mut fresnel = Vec3::new(schlick_mix(f0.x, w), schlick_mix(f0.y, w), schlick_mix(f0.z, w));
        // The film lies on the outside (not seen from inside a refracting
        // material); each film term is computed only where its lobe has weight.
        if self.iridescence > 0.0 && eta >= 1.0 {
            let (k, n, d) = (self.iridescence, self.film_ior, self.film_thickness);
            if self.metallic > 0.0 {
                metal_fresnel = metal_fresnel.lerp(iridescent_fresnel(wo_h, n, d, self.base_color), k);
            }
            if dielectric > 0.0 {
                fresnel = fresnel.lerp(iridescent_fresnel(wo_h, n, d, f0), k);
            }
        }
        let metal = metal_fresnel * (Vec3::ONE + self.base_color * o.lost);
        let layer = fresnel * self.specular * (Vec3::ONE + f0 * o.lost);
        // D G2 / (4 cos θo cos θi), times cos θi.
        let lobe = ggx_d(h, self.alpha) * smith_g2(wo, wi, self.alpha) / (4.0 * wo.z);
        let specular = (metal * self.metallic + layer * dielectric) * lobe;
        let weight = dielectric * (1.0 - self.transmission);
        let diffuse = if weight > 0.0 {
            let layer_i = self.albedo(wi.z).layer;
            let through = (1.0 - o.layer).max(0.0) * (1.0 - layer_i).max(0.0) * self.diffuse_scale;
            self.base_color * (weight * through * FRAC_1_PI * wi.z)
        } else {
            Vec3::ZERO
        };
        (specular, diffuse)
    }

    /// Thin-walled transmission: the specular lobe of `wi` mirrored back to
    /// `wo`'s side; `wo.z > 0`, `wi.z < 0`.
    fn eval_pdf_thin_transmission(&self, wo: Vec3, wi: Vec3, eta: f32, p_transmission: f32) -> (Vec3, f32) {
        let wi = mirror_z(wi);
        let h = (wo + wi).normalize();
        let wo_h = wo.dot(h);
        let weight = (1.0 - self.metallic) * self.transmission * (1.0 - self.layer_fresnel(wo_h, eta));
        let lobe = ggx_d(h, self.alpha) * smith_g2(wo, wi, self.alpha) / (4.0 * wo.z);
        let pdf = p_transmission * ggx_vndf_pdf(wo, h, self.alpha) / (4.0 * wo_h);
        (self.base_color * (weight * lobe), pdf)
    }

    /// Rough dielectric refraction (Walter et al. 2007), radiance BTDF;
    /// `wo.z > 0`, `wi.z < 0`.
    fn eval_pdf_refraction(&self, wo: Vec3, wi: Vec3, eta: f32, p_transmission: f32) -> (Vec3, f32) {
        // The generalised half vector, turned to the upper side.
        let h = wo + eta * wi;
        let h = if h.z < 0.0 { -h } else { h };
        let length = h.length();
        if !(length > 0.0) {
            return (Vec3::ZERO, 0.0);
        }
        let h = h / length;
        let (wo_h, wi_h) = (wo.dot(h), wi.dot(h));
        // The microfacet must face wo and have wi behind it.
        if !(wo_h > 0.0 && wi_h < 0.0) {
            return (Vec3::ZERO, 0.0);
        }
        let denom = wo_h + eta * wi_h;
        let denom2 = denom * denom;
        let weight = (1.0 - self.metallic) * self.transmission * (1.0 - self.layer_fresnel(wo_h, eta));
        // (1 − F) D G2 |wi·h| |wo·h| / (|cos θo| (wo·h + η wi·h)²): the importance
        // BTDF times cos θi, divided by η² for radiance.
        let btdf = ggx_d(h, self.alpha) * smith_g2(wo, wi, self.alpha) * wo_h * -wi_h / (wo.z * denom2);
        // dωh / dωi = η² |wi·h| / (wo·h + η wi·h)².
        let pdf = p_transmission * ggx_vndf_pdf(wo, h, self.alpha) * eta * eta * -wi_h / denom2;
        (self.base_color * (weight * btdf), pdf)
    }
}

impl BsdfView {
    /// f(wo, wi) |cos θi| and the density with which [`BsdfView::sample`] returns `wi`.
    pub fn eval_pdf(&self, wi: Vec3) -> (Vec3, f32) {
        // Also false for NaN.
        if !(self.valid && wi.z.abs() > 0.0) {
            return (Vec3::ZERO, 0.0);
        }
        let wi = if self.mirrored { mirror_z(wi) } else { wi };
        self.bsdf.eval_pdf_upper(self.wo, wi, self.eta, self.albedo, self.coat_normal, self.lobes)
    }

    /// Samples `wi`: `u_lobe` picks the lobe, `u` the direction. `None` when
    /// the sampled direction is impossible (a reflection below the surface,
    /// total internal reflection in the transmission lobe) or `wo` lies in the
    /// surface plane.
    pub fn sample(&self, u_lobe: f32, u: Vec2) -> Option<BsdfSample> {
        if !self.valid {
            return None;
        }
        let (b, wo) = (&self.bsdf, self.wo);
        let [p_coat, p_specular, p_diffuse, _] = self.lobes;
        let (p_specular, p_diffuse) = (p_coat + p_specular, p_coat + p_specular + p_diffuse);
        let wi_up = if u_lobe < p_coat {
            let frame = Frame::from_normal(self.coat_normal);
            let wo_coat = frame.to_local(wo);
            let wi = frame.to_world(reflect(wo_coat, sample_ggx_vndf(wo_coat, Vec2::splat(b.coat_alpha), u)));
            if !(wi.z > 0.0) {
                return None;
            }
            wi
        } else if u_lobe < p_specular {
            let wi = reflect(wo, sample_ggx_vndf(wo, b.alpha, u));
            if !(wi.z > 0.0) {
                return None;
            }
            wi
        } else if u_lobe < p_diffuse {
            let wi = square_to_cosine_hemisphere(u);
            if !(wi.z > 0.0) {
                return None;
            }
            wi
        } else {
            let h = sample_ggx_vndf(wo, b.alpha, u);
            let wi = if b.thin { mirror_z(reflect(wo, h)) } else { refract(wo, h, self.eta)? };
            if !(wi.z < 0.0) {
                return None;
            }
            wi
        };
        let (eval, pdf) = b.eval_pdf_upper(wo, wi_up, self.eta, self.albedo, self.coat_normal, self.lobes);
        if !(pdf > 0.0) {
            return None;
        }
        let wi = if self.mirrored { mirror_z(wi_up) } else { wi_up };
        Some(BsdfSample { wi, weight: eval / pdf, pdf, transmitted: wi_up.z < 0.0 })
    }
}

#[cfg(test)]
mod tests {
    use std::f32::consts::{FRAC_PI_2, PI};

    use super::*;
    use crate::sampling::chi2::{assert_fits, bin_probabilities, chi2_directions, significance_level, Domain};
    use crate::sampling::rng::rand4;
    use crate::sampling::warp::{square_to_uniform_sphere, uniform_sphere_pdf};

    /// Direction at polar angle `theta` (beyond π/2: below the surface), off
    /// the xz plane so nothing lines up with bin edges.
    fn dir(theta: f32) -> Vec3 {
        let phi = 0.3f32;
        Vec3::new(theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos())
    }

    fn uniform3(seed: u32, i: u32) -> (f32, Vec2) {
        let [a, b, c, _] = rand4(seed, i & 0xffff, i >> 16, 1, 0);
        (a, Vec2::new(b, c))
    }

    fn random_dir(seed: u32, i: u32) -> Vec3 {
        square_to_uniform_sphere(uniform3(seed, i).1)
    }

    fn metal(roughness: f32) -> Bsdf {
        Bsdf::new(Vec3::new(0.9, 0.6, 0.3), 1.0, roughness, 1.5, 0.0, false)
    }

    fn plastic(roughness: f32) -> Bsdf {
        Bsdf::new(Vec3::new(0.6, 0.3, 0.2), 0.0, roughness, 1.5, 0.0, false)
    }

    fn glass(roughness: f32) -> Bsdf {
        Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 1.0, false)
    }

    fn thin(roughness: f32, transmission: f32) -> Bsdf {
        Bsdf::new(Vec3::new(0.9, 0.8, 0.7), 0.0, roughness, 1.5, transmission, true)
    }

    fn mixed() -> Bsdf {
        Bsdf::new(Vec3::new(0.7, 0.5, 0.9), 0.4, 0.4, 1.4, 0.5, false)
    }

    /// KHR_materials_clearcoat over a plastic, a rough metal and a rough glass.
    fn coated(weight: f32, roughness: f32, normal: Vec3) -> [(&'static str, Bsdf); 3] {
        [
            ("coated plastic", plastic(0.5).with_coat(weight, roughness, normal)),
            ("coated metal", metal(0.6).with_coat(weight, roughness, normal)),
            ("coated glass", glass(0.3).with_coat(weight, roughness, normal)),
        ]
    }

    /// A unit coat normal tilted away from the base's.
    fn tilted() -> Vec3 {
        Vec3::new(0.3, -0.2, 1.0).normalize()
    }

    /// KHR_materials_sheen over a plastic, a metal, a rough glass and black,
    /// and under a coat.
    fn sheened(color: Vec3, roughness: f32) -> [(&'static str, Bsdf); 5] {
        let black = Bsdf::with_specular(Vec3::ZERO, 0.0, 0.5, 1.5, 0.0, false, 0.0);
        [
            ("sheen on plastic", plastic(0.5).with_sheen(color, roughness)),
            ("sheen on metal", metal(0.3).with_sheen(color, roughness)),
            ("sheen on glass", glass(0.3).with_sheen(color, roughness)),
            ("sheen on black", black.with_sheen(color, roughness)),
            ("coated sheen", plastic(0.6).with_sheen(color, roughness).with_coat(0.8, 0.2, Vec3::Z)),
        ]
    }

    /// KHR_materials_anisotropy's `strength` on a metal, a plastic, a rough
    /// glass and a thin wall, and under a coat.
    fn anisotropic(strength: f32) -> [(&'static str, Bsdf); 5] {
        [
            ("anisotropic metal", metal(0.3).with_anisotropy(strength)),
            ("anisotropic plastic", plastic(0.2).with_anisotropy(strength)),
            ("anisotropic glass", glass(0.3).with_anisotropy(strength)),
            ("anisotropic thin wall", thin(0.4, 0.7).with_anisotropy(strength)),
            ("coated anisotropic metal", metal(0.1).with_anisotropy(strength).with_coat(0.8, 0.1, Vec3::Z)),
        ]
    }

    /// KHR_materials_specular's factor on a plastic, a rough glass and a thin wall.
    fn weak_specular(specular: f32) -> [(&'static str, Bsdf); 3] {
        [
            ("weak plastic", Bsdf::with_specular(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.3, 1.5, 0.0, false, specular)),
            ("weak glass", Bsdf::with_specular(Vec3::ONE, 0.0, 0.4, 1.5, 1.0, false, specular)),
            ("weak thin wall", Bsdf::with_specular(Vec3::new(0.9, 0.8, 0.7), 0.0, 0.5, 1.5, 0.6, true, specular)),
        ]
    }

    /// KHR_materials_specular's colour on a plastic, a rough glass and a thin wall.
    fn tinted(color: Vec3) -> [(&'static str, Bsdf); 3] {
        [
            ("tinted plastic", plastic(0.3).with_specular_color(color)),
            ("tinted glass", glass(0.4).with_specular_color(color)),
            ("tinted thin wall", thin(0.5, 0.6).with_specular_color(color)),
        ]
    }

    /// KHR_materials_iridescence's film on a metal, a plastic and a rough glass.
    fn iridescent() -> [(&'static str, Bsdf); 3] {
        [
            ("iridescent metal", metal(0.3).with_iridescence(1.0, 1.3, 400.0)),
            ("iridescent plastic", plastic(0.2).with_iridescence(0.7, 1.8, 250.0)),
            ("iridescent glass", glass(0.3).with_iridescence(1.0, 1.3, 300.0)),
        ]
    }

    /// A spread of materials for the pointwise checks.
    fn materials() -> Vec<(&'static str, Bsdf)> {
        let mut all = vec![
            ("lambert", Bsdf::new(Vec3::splat(0.8), 0.0, 0.5, 1.0, 0.0, false)),
            ("smooth metal", metal(0.0)),
            ("rough metal", metal(0.7)),
            ("smooth plastic", plastic(0.0)),
            ("plastic", plastic(0.4)),
            ("smooth glass", glass(0.0)),
            ("rough glass", glass(0.5)),
            ("thin glass", thin(0.3, 1.0)),
            ("half thin", thin(0.6, 0.5)),
            ("mixed", mixed()),
        ];
        all.extend(weak_specular(0.4));
        all.extend(weak_specular(0.0));
        all.extend(coated(1.0, 0.1, Vec3::Z));
        all.extend(coated(0.5, 0.6, Vec3::Z));
        all.extend(sheened(Vec3::new(0.9, 0.6, 0.3), 0.3));
        all.extend(sheened(Vec3::ONE, 0.0));
        all.extend(anisotropic(0.6));
        all.extend(anisotropic(1.0));
        all.extend(tinted(Vec3::new(1.0, 0.3, 0.0)));
        all.extend(tinted(Vec3::new(0.5, 20.0, 2.0)));
        all.extend(iridescent());
        for i in 0..20 {
            let [a, b, c, d] = rand4(99, i, 0, 0, 0);
            let [e, f, g, _] = rand4(99, i, 0, 0, 1);
            all.push(("random", Bsdf::new(Vec3::new(a, b, c), d.powi(3), e, 1.0 + 1.5 * f, g, i % 2 == 0)));
        }
        all
    }

    /// χ² of `Bsdf::sample` against `Bsdf::pdf` for wo at polar angle `theta`,
    /// plus the pdf's total (≤ 1, and 1 when no sample was rejected).
    fn check_sampling(name: &str, bsdf: Bsdf, theta: f32) {
        let wo = dir(theta);
        let mut sample = |u: [f32; 3]| bsdf.sample(wo, u[0], Vec2::new(u[1], u[2])).map(|s| s.wi);
        let pdf = |wi: Vec3| bsdf.pdf(wo, wi);
        let outcome = chi2_directions(&mut sample, &pdf, Domain::Sphere, 1_000_000);
        let name = format!("{name}, θo = {theta}");
        assert!(outcome.pdf_integral <= 1.0 + 1e-3, "{name}: ∫pdf = {}", outcome.pdf_integral);
        if outcome.accepted == 1.0 {
            assert!((outcome.pdf_integral - 1.0).abs() < 1e-3, "{name}: ∫pdf = {}", outcome.pdf_integral);
        }
        assert_fits(&name, outcome);
    }

    #[test]
    fn diffuse_and_plastic_sampling_matches_pdf() {
        check_sampling("lambert", Bsdf::new(Vec3::splat(0.8), 0.0, 0.5, 1.0, 0.0, false), 0.6);
        check_sampling("plastic 0.2", plastic(0.2), 0.4);
        check_sampling("plastic 0.2", plastic(0.2), 1.45);
        check_sampling("plastic 0.8", plastic(0.8), 1.0);
    }

    #[test]
    fn metal_sampling_matches_pdf() {
        for roughness in [0.05, 0.3, 0.7, 1.0] {
            for theta in [0.2, 0.9, 1.5] {
                check_sampling(&format!("metal {roughness}"), metal(roughness), theta);
            }
        }
        // Seen from below: the two-sided mirror image.
        check_sampling("metal 0.3 from below", metal(0.3), PI - 0.7);
    }

    #[test]
    fn rough_glass_sampling_matches_pdf() {
        // Outside and inside; π − 1.0 is beyond the critical angle (41.8°).
        for (roughness, theta) in
            [(0.1, 0.5), (0.1, PI - 0.3), (0.3, 1.3), (0.3, PI - 0.5), (0.3, PI - 1.0), (0.7, 0.9), (0.7, PI - 0.8)]
        {
            check_sampling(&format!("glass {roughness}"), glass(roughness), theta);
        }
    }

    #[test]
    fn thin_and_mixed_sampling_matches_pdf() {
        check_sampling("thin glass 0.3", thin(0.3, 1.0), 0.7);
        check_sampling("half thin 0.6", thin(0.6, 0.5), PI - 0.5);
        check_sampling("mixed", mixed(), 0.8);
        check_sampling("mixed", mixed(), PI - 0.6);
    }

    #[test]
    fn specular_factor_sampling_matches_pdf() {
        for specular in [0.0, 0.4] {
            for (name, bsdf) in weak_specular(specular) {
                check_sampling(&format!("{name} {specular}"), bsdf, 0.6);
                check_sampling(&format!("{name} {specular}"), bsdf, PI - 0.4);
            }
        }
    }

    #[test]
    fn specular_colour_sampling_matches_pdf() {
        for color in [Vec3::new(1.0, 0.3, 0.0), Vec3::new(0.5, 20.0, 2.0)] {
            for (name, bsdf) in tinted(color) {
                check_sampling(&format!("{name} {color}"), bsdf, 0.6);
                check_sampling(&format!("{name} {color}"), bsdf, PI - 0.4);
            }
        }
    }

    #[test]
    fn coated_sampling_matches_pdf() {
        for (weight, roughness, normal) in [(1.0, 0.05, Vec3::Z), (0.7, 0.4, Vec3::Z), (1.0, 0.2, tilted())] {
            for (name, bsdf) in coated(weight, roughness, normal) {
                let name = format!("{name} (coat {weight}, roughness {roughness}, normal {normal})");
                check_sampling(&name, bsdf, 0.5);
                check_sampling(&name, bsdf, 1.3);
                check_sampling(&name, bsdf, PI - 0.6);
            }
        }
    }

    #[test]
    fn sheen_sampling_matches_pdf() {
        for (color, roughness) in [(Vec3::ONE, 0.1), (Vec3::new(0.9, 0.6, 0.3), 0.5), (Vec3::splat(0.7), 1.0)] {
            for (name, bsdf) in sheened(color, roughness) {
                let name = format!("{name} (colour {color}, roughness {roughness})");
                check_sampling(&name, bsdf, 0.5);
                check_sampling(&name, bsdf, 1.35);
                check_sampling(&name, bsdf, PI - 0.6);
            }
        }
    }

    #[test]
    fn anisotropic_sampling_matches_pdf() {
        for strength in [0.5, 1.0] {
            for (name, bsdf) in anisotropic(strength) {
                let name = format!("{name} (strength {strength})");
                check_sampling(&name, bsdf, 0.5);
                check_sampling(&name, bsdf, 1.3);
                check_sampling(&name, bsdf, PI - 0.6);
            }
        }
    }

    #[test]
    fn a_wrong_pdf_is_rejected() {
        // The true pdf tilted by (1 + 0.3 cos θ) and renormalised to the same
        // total: a subtle error the test must still catch.
        let bsdf = plastic(0.5);
        let wo = dir(0.7);
        let pdf = |wi: Vec3| bsdf.pdf(wo, wi);
        let tilted = |wi: Vec3| pdf(wi) * (1.0 + 0.3 * wi.z);
        let total = |f: &dyn Fn(Vec3) -> f32| bin_probabilities(f, Domain::Sphere).iter().sum::<f64>();
        let scale = (total(&pdf) / total(&tilted)) as f32;
        let wrong = |wi: Vec3| tilted(wi) * scale;
        let mut sample = |u: [f32; 3]| bsdf.sample(wo, u[0], Vec2::new(u[1], u[2])).map(|s| s.wi);
        let outcome = chi2_directions(&mut sample, &wrong, Domain::Sphere, 1_000_000);
        assert!(outcome.p_value < significance_level(), "wrong pdf accepted: {outcome:?}");
    }

    #[test]
    fn samples_agree_with_eval_and_pdf() {
        for (name, bsdf) in materials() {
            for i in 0..2000 {
                let wo = random_dir(1, i);
                let (u_lobe, u) = uniform3(2, i);
                let Some(s) = bsdf.sample(wo, u_lobe, u) else { continue };
                let (eval, pdf) = bsdf.eval_pdf(wo, s.wi);
                assert!(s.pdf > 0.0 && s.weight.is_finite() && s.weight.min_element() >= 0.0, "{name}: {s:?}");
                assert!((s.wi.length() - 1.0).abs() < 1e-4, "{name}: |wi| = {}", s.wi.length());
                assert!((pdf - s.pdf).abs() <= 1e-4 * pdf, "{name}: pdf {pdf} vs sampled {}", s.pdf);
                let expected = eval / pdf;
                assert!((s.weight - expected).abs().max_element() <= 1e-4 * expected.max_element(), "{name}");
                assert_eq!(s.transmitted, s.wi.z * wo.z < 0.0, "{name}");
            }
        }
    }

    #[test]
    fn eval_is_covered_by_pdf_and_well_behaved() {
        // Wherever eval is non-zero the sampler can produce the direction, or
        // estimates using `sample` would be biased.
        for (name, bsdf) in materials() {
            for i in 0..20_000 {
                let (wo, wi) = (random_dir(3, i), random_dir(4, i));
                let (eval, pdf) = bsdf.eval_pdf(wo, wi);
                assert!(eval.is_finite() && eval.min_element() >= 0.0 && pdf.is_finite() && pdf >= 0.0, "{name}");
                assert!(eval.max_element() == 0.0 || pdf > 0.0, "{name}: eval {eval} with pdf 0 at {wo}, {wi}");
            }
        }
    }

    #[test]
    fn degenerate_directions_are_harmless() {
        let bsdf = mixed();
        let flat = Vec3::X;
        assert_eq!(bsdf.eval_pdf(flat, Vec3::Z), (Vec3::ZERO, 0.0));
        assert_eq!(bsdf.eval_pdf(Vec3::Z, flat), (Vec3::ZERO, 0.0));
        assert_eq!(bsdf.eval_pdf(Vec3::NAN, Vec3::Z), (Vec3::ZERO, 0.0));
        assert_eq!(bsdf.sample(flat, 0.5, Vec2::splat(0.5)), None);
        assert_eq!(bsdf.sample(Vec3::NAN, 0.5, Vec2::splat(0.5)), None);
        // Straight through an index-matched thin wall, and at normal incidence.
        let s = thin(0.0, 1.0).sample(Vec3::Z, 0.99, Vec2::new(0.3, 0.0)).expect("transmission");
        assert!(s.transmitted && s.weight.is_finite());
    }

    #[test]
    fn new_clamps_parameters() {
        let b = Bsdf::new(Vec3::new(-1.0, 2.0, f32::NAN), 3.0, -1.0, 0.5, f32::NAN, false);
        assert_eq!(b.base_color, Vec3::new(0.0, 1.0, 0.0));
        assert_eq!((b.metallic, b.alpha, b.ior, b.transmission), (1.0, Vec2::splat(roughness_to_alpha(0.0)), 1.0, 0.0));
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 2.0, 1e9, 0.0, false).alpha, Vec2::ONE);
        // Anisotropy: strength in [0, 1] (NaN is 0) stretches α along x towards one.
        let rough = Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.5, 0.0, false);
        assert_eq!(rough.with_anisotropy(3.0).alpha, Vec2::new(1.0, 0.25));
        assert_eq!(rough.with_anisotropy(0.5).alpha, Vec2::new(0.25 + 0.75 * 0.25, 0.25));
        assert_eq!(rough.with_anisotropy(f32::NAN), rough.with_anisotropy(0.0));
        assert_eq!(rough.with_anisotropy(0.0).alpha, rough.alpha);
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 0.5, 1e9, 0.0, false).ior, MAX_IOR);
        // Refracting materials keep away from the index-matched delta lobe.
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.0, 0.5, false).ior, MIN_REFRACTING_IOR);
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.0, 0.5, true).ior, 1.0);
    }

    /// (f(wo, wi), f(wi, wo)) for `wo`, `wi` from the BSDF's `eval`.
    fn both_ways(bsdf: &Bsdf, wo: Vec3, wi: Vec3) -> (Vec3, Vec3) {
        (bsdf.eval(wo, wi) / wi.z.abs(), bsdf.eval(wi, wo) / wo.z.abs())
    }

    fn assert_close(a: Vec3, b: Vec3, relative: f32, what: &str) {
        let scale = a.abs().max(b.abs()).max_element();
        assert!((a - b).abs().max_element() <= relative * scale + 1e-6, "{what}: {a} vs {b}");
    }

    #[test]
    fn diffuse_and_thin_transmission_are_reciprocal() {
        for (name, bsdf) in materials() {
            for i in 0..5000 {
                let (wo, wi) = (random_dir(5, i), random_dir(6, i));
                let (wo, wi) = (Vec3::new(wo.x, wo.y, wo.z.abs()), wi);
                if wi.z > 0.0 {
                    // The diffuse part; the specular part is reciprocal up
                    // to the multiple-scattering factor of wo (checked below).
                    let h = (wo + wi).normalize();
                    let forward = bsdf.reflection(wo, wi, h, bsdf.ior, bsdf.albedo(wo.z)).1 / wi.z;
                    let backward = bsdf.reflection(wi, wo, h, bsdf.ior, bsdf.albedo(wi.z)).1 / wo.z;
                    assert_close(forward, backward, 1e-3, &format!("{name} diffuse at {wo}, {wi}"));
                } else if bsdf.thin {
                    let (forward, backward) = both_ways(&bsdf, wo, wi);
                    assert_close(forward, backward, 1e-3, &format!("{name} at {wo}, {wi}"));
                }
            }
        }
    }

    #[test]
    fn specular_reflection_is_reciprocal_up_to_the_multiple_scattering_factor() {
        for (metallic, base) in [(1.0, Vec3::new(0.9, 0.6, 0.3)), (0.0, Vec3::ZERO)] {
            for roughness in [0.1, 0.5, 1.0] {
                let bsdf = Bsdf::new(base, metallic, roughness, 1.5, 0.0, false);
                let f0 = if metallic == 1.0 { base } else { Vec3::splat(bsdf.f0) };
                for i in 0..2000 {
                    let (wo, wi) = (random_dir(5, i), random_dir(6, i));
                    let (wo, wi) = (Vec3::new(wo.x, wo.y, wo.z.abs()), Vec3::new(wi.x, wi.y, wi.z.abs()));
                    let (forward, backward) = both_ways(&bsdf, wo, wi);
                    let scale = |cos: f32| Vec3::ONE + f0 * bsdf.albedo(cos).lost;
                    let what = format!("metallic {metallic}, roughness {roughness} at {wo}, {wi}");
                    assert_close(forward / scale(wo.z), backward / scale(wi.z), 1e-3, &what);
                }
            }
        }
    }

    #[test]
    fn refraction_obeys_generalised_reciprocity() {
        // Radiance BTDF: f(wi, wo) = (η_i / η_o)² f(wo, wi); with wo outside,
        // η_o = 1 and η_i = ior. Seen from inside, a microfacet near the
        // critical angle makes 1 − F ill-conditioned in f32 (the transmitted
        // cosine is a small difference), hence the percent tolerance.
        for bsdf in [glass(0.2), glass(0.7), mixed()] {
            for i in 0..5000 {
                let wo = random_dir(7, i);
                let wo = Vec3::new(wo.x, wo.y, wo.z.abs());
                let wi = random_dir(8, i);
                let wi = Vec3::new(wi.x, wi.y, -wi.z.abs());
                let (forward, backward) = both_ways(&bsdf, wo, wi);
                assert_close(forward * (bsdf.ior * bsdf.ior), backward, 1e-2, &format!("{bsdf:?} at {wo}, {wi}"));
            }
        }
    }

    #[test]
    fn two_sided_materials_mirror() {
        for (name, bsdf) in materials() {
            if bsdf.transmission > 0.0 && !bsdf.thin {
                continue;
            }
            for i in 0..1000 {
                let (wo, wi) = (random_dir(9, i), random_dir(10, i));
                let (a, pa) = bsdf.eval_pdf(wo, wi);
                let (b, pb) = bsdf.eval_pdf(mirror_z(wo), mirror_z(wi));
                assert!(a == b && pa == pb, "{name}");
            }
        }
    }

    /// Directional albedo ∫ eval dωi per channel, with the transmitted part
    /// scaled by `transmitted_scale`, estimated with `samples` BSDF samples:
    /// the mean and its standard error.
    fn albedo_rgb(bsdf: &Bsdf, wo: Vec3, samples: u32, transmitted_scale: f64) -> ([f64; 3], [f64; 3]) {
        let (mut sum, mut sum_sq) = ([0.0f64; 3], [0.0f64; 3]);
        for i in 0..samples {
            // Stratified lobe choice: no noise from how many samples each lobe gets.
            let (jitter, u) = uniform3(12, i);
            let u_lobe = (i as f32 + jitter) / samples as f32;
            if let Some(s) = bsdf.sample(wo, u_lobe, u) {
                let scale = if s.transmitted { transmitted_scale } else { 1.0 };
                for c in 0..3 {
                    let w = s.weight[c] as f64 * scale;
                    sum[c] += w;
                    sum_sq[c] += w * w;
                }
            }
        }
        let n = samples as f64;
        let mean = sum.map(|s| s / n);
        let stderr = [0, 1, 2].map(|c| ((sum_sq[c] / n - mean[c] * mean[c]).max(0.0) / (n - 1.0)).sqrt());
        (mean, stderr)
    }

    /// [`albedo_rgb`] of a grey material: the mean over channels.
    fn albedo(bsdf: &Bsdf, wo: Vec3, samples: u32, transmitted_scale: f64) -> (f64, f64) {
        let (mean, stderr) = albedo_rgb(bsdf, wo, samples, transmitted_scale);
        (mean.iter().sum::<f64>() / 3.0, stderr.iter().sum::<f64>() / 3.0)
    }
    /// Asserts that an albedo estimate is not significantly above one. The
    /// weights of rare grazing microfacets are large (total internal
    /// reflection picked with the macro-normal Fresnel probability), so the
    /// bound allows three standard errors.
    fn assert_no_gain((mean, stderr): (f64, f64), what: &str) {
        assert!(mean - 3.0 * stderr <= 1.001, "{what}: albedo {mean} ± {stderr}");
    }

    const FURNACE_ROUGHNESS: [f32; 7] = [0.0, 0.05, 0.1, 0.3, 0.5, 0.7, 1.0];
    const FURNACE_COS: [f32; 6] = [1.0, 0.8, 0.5, 0.2, 0.05, 0.01];

    fn cos_dir(cos: f32) -> Vec3 {
        Vec3::new((1.0 - cos * cos).sqrt(), 0.0, cos)
    }

    #[test]
    fn metals_and_dielectrics_never_gain_energy() {
        for roughness in FURNACE_ROUGHNESS {
            for cos in FURNACE_COS {
                let wo = cos_dir(cos);
                for (name, bsdf) in [
                    ("metal", Bsdf::new(Vec3::ONE, 1.0, roughness, 1.5, 0.0, false)),
                    ("plastic 1.5", Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false)),
                    ("plastic 2.5", Bsdf::new(Vec3::ONE, 0.0, roughness, 2.5, 0.0, false)),
                    ("half metal", Bsdf::new(Vec3::ONE, 0.5, roughness, 1.5, 0.0, false)),
                    ("thin glass", Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 1.0, true)),
                ] {
                    assert_no_gain(
                        albedo(&bsdf, wo, 20_000, 1.0),
                        &format!("{name}, roughness {roughness}, cos θo {cos}"),
                    );
                }
            }
        }
    }

    /// The furnace table of the glTF issue: roughness × view angle.
    const TABLE_ROUGHNESS: [f32; 4] = [0.05, 0.2, 0.5, 1.0];
    const TABLE_DEGREES: [f32; 4] = [0.0, 45.0, 75.0, 85.0];

    fn degrees_dir(degrees: f32) -> Vec3 {
        cos_dir(degrees.to_radians().cos())
    }

    /// Asserts that an albedo estimate lies in [low, high] within three standard errors.
    fn assert_within((mean, stderr): (f64, f64), low: f64, high: f64, what: &str) {
        assert!(stderr < 2e-3, "{what}: standard error {stderr} too large to judge");
        // Room above `high` for the rounding of f32 weights and the table's
        // interpolation (ggx_albedo.rs).
        let high = high + 1e-4;
        assert!(mean + 3.0 * stderr >= low && mean - 3.0 * stderr <= high, "{what}: albedo {mean} ± {stderr}");
    }

    #[test]
    fn white_furnace_loses_only_what_the_model_says() {
        // A white dielectric reflects all the light its layer lets through, and
        // a white metal (F0 = 1) all of it: compensation recovers what single
        // scattering loses, so neither may fall below these bounds.
        for roughness in TABLE_ROUGHNESS {
            for degrees in TABLE_DEGREES {
                let wo = degrees_dir(degrees);
                let what = format!("roughness {roughness}, θo {degrees}°");
                let dielectric = Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false);
                assert_within(albedo(&dielectric, wo, 200_000, 1.0), 0.96, 1.0, &format!("dielectric, {what}"));
                let metal = Bsdf::new(Vec3::ONE, 1.0, roughness, 1.5, 0.0, false);
                assert_within(albedo(&metal, wo, 500_000, 1.0), 0.97, 1.0, &format!("metal, {what}"));
            }
        }
    }

    #[test]
    fn a_clear_coat_over_white_keeps_the_white_furnace() {
        // The base receives 1 − E_c(wo) of the light, the coat reflects E_c: a
        // white dielectric under any coat keeps the dielectric's lower bound.
        // The upper bound allows 0.2% over one: E_c comes from the albedo table,
        // whose interpolation under-estimates a fully rough coat's albedo at
        // grazing angles by up to 4e-4 of the light (0.0346 against 0.0342 at 75°).
        // A tilted coat normal sends some reflections below the surface, which
        // are lost.
        for coat_roughness in [0.0, 0.3, 1.0] {
            for roughness in [0.2, 0.5] {
                for degrees in TABLE_DEGREES {
                    let wo = degrees_dir(degrees);
                    let base = Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false);
                    let what = format!("coat roughness {coat_roughness}, roughness {roughness}, θo {degrees}°");
                    let coated = base.with_coat(1.0, coat_roughness, Vec3::Z);
                    assert_within(albedo(&coated, wo, 200_000, 1.0), 0.96, 1.002, &what);
                    let tilted = base.with_coat(1.0, coat_roughness, tilted());
                    assert_no_gain(albedo(&tilted, wo, 20_000, 1.0), &format!("tilted {what}"));
                }
            }
        }
    }

    #[test]
    fn an_anisotropic_white_furnace_stays_within_the_stated_bounds() {
        // The albedo tables are read at the geometric mean √(αx αy) (as Cycles
        // does), which is exact only for an isotropic lobe. Measured with 500 000
        // samples: a white metal keeps 0.88–1.03 of the light at strength 0.5
        // and 0.53–1.02 at strength 1 (a lobe stretched to α = 1 along the
        // tangent loses what single scattering loses there); a white dielectric
        // keeps 0.80–1.06, its layer's albedo mis-estimated at grazing angles.
        // The bounds below hold those figures with room for noise; they fail
        // when the stretch or the table lookup changes.
        for (strength, metal_low) in [(0.5, 0.85), (1.0, 0.5)] {
            for roughness in [0.05, 0.3, 0.6] {
                for degrees in [0.0f32, 75.0] {
                    for phi in [0.0f32, FRAC_PI_2] {
                        let t = degrees.to_radians();
                        let wo = Vec3::new(t.sin() * phi.cos(), t.sin() * phi.sin(), t.cos());
                        let what = format!("strength {strength}, roughness {roughness}, θo {degrees}°, φo {phi}");
                        let metal = Bsdf::new(Vec3::ONE, 1.0, roughness, 1.5, 0.0, false).with_anisotropy(strength);
                        assert_within(albedo(&metal, wo, 200_000, 1.0), metal_low, 1.035, &format!("metal, {what}"));
                        let dielectric =
                            Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false).with_anisotropy(strength);
                        assert_within(
                            albedo(&dielectric, wo, 200_000, 1.0),
                            0.78,
                            1.065,
                            &format!("dielectric, {what}"),
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_white_sheen_over_white_keeps_the_white_furnace() {
        // The sheen reflects min(E_s, 1), the base below it receives 1 − E_s of
        // the light: a white dielectric under a white sheen keeps the
        // dielectric's lower bound and never exceeds one by more than the
        // sheen table's interpolation error (SHEEN_TABLE_ERROR). The albedo is
        // integrated by quadrature over wi: cosine sampling, which the sheen
        // shares with the diffuse lobe, rarely finds the smoothest sheen's
        // grazing peak, and an estimate would need millions of samples there.
        for sheen_roughness in [0.0, 0.1, 0.5, 1.0] {
            for roughness in [0.2, 0.5] {
                for degrees in TABLE_DEGREES {
                    let wo = degrees_dir(degrees);
                    let base = Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false);
                    let bsdf = base.with_sheen(Vec3::ONE, sheen_roughness);
                    let view = bsdf.view(wo);
                    let bins = bin_probabilities(&|wi| mean3(view.eval_pdf(wi).0), Domain::Hemisphere);
                    let total: f64 = bins.iter().sum();
                    let what = format!("sheen roughness {sheen_roughness}, roughness {roughness}, θo {degrees}°");
                    assert!((0.96..=1.0 + SHEEN_TABLE_ERROR).contains(&total), "{what}: albedo {total}");
                }
            }
        }
    }

    /// How much above one the furnace may return where the interpolated sheen
    /// albedo falls below the lobe's integral: measured at most 2.1e-4 (sheen
    /// roughness 0 and 0.1 over a base of roughness 0.5, θo = 45°).
    const SHEEN_TABLE_ERROR: f64 = 0.001;

    #[test]
    fn a_sheen_over_black_reflects_its_colour_times_its_albedo() {
        // KHR_materials_sheen over a black base: sheenColor × E_s(μo), E_s the
        // white lobe's albedo by quadrature (sheen::lobe_albedo), per channel.
        let color = Vec3::new(0.9, 0.5, 0.2);
        for roughness in [0.3, 0.6, 1.0] {
            for degrees in [0.0, 45.0, 75.0] {
                let wo = degrees_dir(degrees);
                let black = Bsdf::with_specular(Vec3::ZERO, 0.0, 0.5, 1.5, 0.0, false, 0.0);
                let (mean, stderr) = albedo_rgb(&black.with_sheen(color, roughness), wo, 200_000, 1.0);
                let e = crate::sampling::sheen::lobe_albedo(wo.z, roughness) as f64;
                for c in 0..3 {
                    let expected = color[c] as f64 * e;
                    let what = format!("roughness {roughness}, θo {degrees}°, channel {c}: {} vs {expected}", mean[c]);
                    assert!((mean[c] - expected).abs() < 0.01 * expected + 3.0 * stderr[c], "{what}");
                }
            }
        }
    }

    #[test]
    fn a_sheen_scales_the_base_by_its_albedo() {
        // Over a white Lambertian base (no specular layer): per channel
        // c E_s + (1 − max(c) E_s), the extension's albedo scaling.
        let color = Vec3::new(0.8, 0.4, 0.1);
        let lambert = Bsdf::with_specular(Vec3::ONE, 0.0, 0.5, 1.5, 0.0, false, 0.0);
        for degrees in [0.0, 60.0] {
            let wo = degrees_dir(degrees);
            let e = crate::sampling::sheen::lobe_albedo(wo.z, 0.5) as f64;
            let (mean, stderr) = albedo_rgb(&lambert.with_sheen(color, 0.5), wo, 200_000, 1.0);
            for c in 0..3 {
                let expected = color[c] as f64 * e + 1.0 - 0.8 * e;
                let what = format!("θo {degrees}°, channel {c}: {} vs {expected}", mean[c]);
                assert!((mean[c] - expected).abs() < 0.005 + 3.0 * stderr[c], "{what}");
            }
        }
    }

    #[test]
    fn a_smooth_coat_reflects_the_fresnel_of_the_extension() {
        // KHR_materials_clearcoat over black: weight × F(N·V) with F0 = 0.04.
        for weight in [1.0, 0.4] {
            for degrees in [0.0, 45.0, 75.0] {
                let wo = degrees_dir(degrees);
                // A black base without a specular layer (KHR_materials_specular 0).
                let black = Bsdf::with_specular(Vec3::ZERO, 0.0, 0.5, 1.5, 0.0, false, 0.0);
                let bsdf = black.with_coat(weight, 0.0, Vec3::Z);
                let expected = weight as f64 * (0.04 + 0.96 * (1.0 - wo.z as f64).powi(5));
                let (mean, _) = albedo(&bsdf, wo, 20_000, 1.0);
                assert!(
                    (mean - expected).abs() < 0.01 * expected,
                    "weight {weight}, θo {degrees}°: {mean} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn a_specular_factor_sweep_keeps_the_white_furnace() {
        // KHR_materials_specular scales the layer's F0 and F90 by s: a white base
        // receives what the weaker layer lets through, so the sum stays within the
        // bounds of the full layer (s = 1) for every s and never exceeds one.
        for specular in [0.0, 0.25, 0.5, 0.75] {
            for roughness in TABLE_ROUGHNESS {
                for degrees in TABLE_DEGREES {
                    let wo = degrees_dir(degrees);
                    let bsdf = Bsdf::with_specular(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false, specular);
                    let what = format!("specular {specular}, roughness {roughness}, θo {degrees}°");
                    assert_within(albedo(&bsdf, wo, 200_000, 1.0), 0.96, 1.0, &what);
                }
            }
        }
    }

    #[test]
    fn a_specular_colour_tints_the_layer_and_the_base_receives_the_rest() {
        // KHR_materials_specular's colour sets the layer's F0 per channel,
        // min(F0(ior) colour, 1); the base below receives one minus the largest
        // channel (the extension's fresnel_mix). Over a white base the largest
        // channel keeps the white furnace of the untinted layer, and every other
        // channel returns less by exactly the difference of the layer's albedos,
        // which the albedo table gives by quadrature.
        for color in [Vec3::new(1.0, 0.4, 0.0), Vec3::new(0.2, 8.0, 1.0)] {
            for roughness in TABLE_ROUGHNESS {
                for degrees in TABLE_DEGREES {
                    let wo = degrees_dir(degrees);
                    let bsdf = plastic(roughness).with_specular_color(color);
                    let bsdf = Bsdf { base_color: Vec3::ONE, ..bsdf };
                    let (mean, stderr) = albedo_rgb(&bsdf, wo, 200_000, 1.0);
                    let f0 = (dielectric_f0(1.5) * color).min(Vec3::ONE);
                    let largest = (0..3).max_by(|&a, &b| f0[a].total_cmp(&f0[b])).unwrap();
                    let what = format!("colour {color}, roughness {roughness}, θo {degrees}°");
                    assert_within((mean[largest], stderr[largest]), 0.96, 1.0, &what);
                    let lobe = albedo_lookup(&TABLE, bsdf.albedo_row, bsdf.alpha.x, wo.z);
                    for c in 0..3 {
                        let expected = mean[largest]
                            - (dielectric_albedo(lobe, f0[largest]) - dielectric_albedo(lobe, f0[c])) as f64;
                        let error = (mean[c] - expected).abs();
                        assert!(error < 0.005 + 3.0 * stderr[c], "{what}, channel {c}: {} against {expected}", mean[c]);
                    }
                }
            }
        }
    }

    #[test]
    fn a_thin_film_over_white_stays_within_the_stated_bounds() {
        // KHR_materials_iridescence mixes the specular Fresnel towards the
        // film's. A white metal reflects everything with or without a film
        // (the film's reflectance over F0 = 1 is 1). Below a dielectric layer
        // the base receives what a layer of the film's largest normal
        // reflectance lets through, at every angle; where interference at
        // grazing angles reflects more than that, the sum exceeds one.
        // Measured with 100 000 samples per case: 0.83–1.075 per channel.
        for (ior, thickness) in [(1.3f32, 150.0f32), (1.3, 400.0), (2.0, 300.0), (1.3, 800.0)] {
            for roughness in [0.05f32, 0.2, 0.5] {
                for degrees in [0.0f32, 45.0, 75.0, 85.0] {
                    let wo = degrees_dir(degrees);
                    let what = format!("film {ior}, {thickness} nm, roughness {roughness}, θo {degrees}°");
                    let film = |metallic| {
                        Bsdf::new(Vec3::ONE, metallic, roughness, 1.5, 0.0, false).with_iridescence(1.0, ior, thickness)
                    };
                    let (metal, metal_err) = albedo_rgb(&film(1.0), wo, 100_000, 1.0);
                    let (dielectric, dielectric_err) = albedo_rgb(&film(0.0), wo, 100_000, 1.0);
                    for c in 0..3 {
                        assert_within((metal[c], metal_err[c]), 0.97, 1.0, &format!("metal, {what}"));
                        assert_within((dielectric[c], dielectric_err[c]), 0.8, 1.09, &format!("dielectric, {what}"));
                    }
                }
            }
        }
    }

    #[test]
    fn the_specular_factor_scales_the_layer_and_what_it_lets_through() {
        // Over a black base only the layer reflects: its albedo is s times that
        // of the full layer, sample for sample. A thin wall reflects s·R(1) and
        // transmits ∫(1 − s·F) of its lobe: linear in s.
        for roughness in [0.1, 0.5] {
            for degrees in [0.0, 60.0] {
                let wo = degrees_dir(degrees);
                let layer = |s: f32| {
                    albedo(&Bsdf::with_specular(Vec3::ZERO, 0.0, roughness, 1.5, 0.0, false, s), wo, 20_000, 1.0).0
                };
                let full = layer(1.0);
                for s in [0.2, 0.7] {
                    let what = format!("roughness {roughness}, θo {degrees}°, s {s}");
                    assert!((layer(s) - s as f64 * full).abs() <= 1e-5 * full, "{what}");
                }
                let wall = |s: f32| Bsdf::with_specular(Vec3::ONE, 0.0, roughness, 1.5, 1.0, true, s);
                let reflected = |s: f32| albedo(&wall(s), wo, 100_000, 0.0).0;
                let transmitted = |s: f32| albedo(&wall(s), wo, 100_000, 1.0).0 - reflected(s);
                let (r1, t1, t0) = (reflected(1.0), transmitted(1.0), transmitted(0.0));
                let (rs, ts) = (reflected(0.5), transmitted(0.5));
                let what = format!(
                    "roughness {roughness}, θo {degrees}°: R(½) {rs}, R(1) {r1}, T(0) {t0}, T(½) {ts}, T(1) {t1}"
                );
                assert!(reflected(0.0) == 0.0 && t0 > t1, "{what}");
                assert!((rs - 0.5 * r1).abs() < 2e-3 && (ts - 0.5 * (t0 + t1)).abs() < 2e-3, "{what}");
            }
        }
    }

    #[test]
    fn coloured_materials_never_exceed_their_white_counterparts() {
        let colour = Vec3::new(0.9, 0.5, 0.1);
        for roughness in TABLE_ROUGHNESS {
            for degrees in TABLE_DEGREES {
                let wo = degrees_dir(degrees);
                for (metallic, transmission, thin) in
                    [(0.0, 0.0, true), (1.0, 0.0, true), (0.5, 0.0, true), (0.0, 0.6, true)]
                {
                    let white = albedo_rgb(
                        &Bsdf::new(Vec3::ONE, metallic, roughness, 1.5, transmission, thin),
                        wo,
                        50_000,
                        1.0,
                    );
                    let tinted =
                        albedo_rgb(&Bsdf::new(colour, metallic, roughness, 1.5, transmission, thin), wo, 50_000, 1.0);
                    for c in 0..3 {
                        let margin = 3.0 * (white.1[c] + tinted.1[c]);
                        assert!(
                            tinted.0[c] <= white.0[c] + margin,
                            "metallic {metallic}, transmission {transmission}, roughness {roughness}, θo {degrees}°, \
                             channel {c}: {} > white {}",
                            tinted.0[c],
                            white.0[c]
                        );
                    }
                }
            }
        }
    }

    /// The directional albedo of Appendix B's dielectric (base colour `c`,
    /// ior 1.5) by adaptive quadrature over wi: fresnel_mix with Schlick's F
    /// at V·H over a Lambertian base, single-scattering GGX.
    fn appendix_b_dielectric_albedo(c: f32, roughness: f32, wo: Vec3) -> f64 {
        let alpha = Vec2::splat(roughness_to_alpha(roughness));
        let f = |wi: Vec3| {
            if wi.z <= 0.0 {
                return 0.0;
            }
            let h = (wo + wi).normalize();
            let fresnel = 0.04 + 0.96 * (1.0 - wo.dot(h)).powi(5);
            let specular = ggx_d(h, alpha) * smith_g2(wo, wi, alpha) / (4.0 * wo.z * wi.z);
            ((1.0 - fresnel) * c * FRAC_1_PI + fresnel * specular) * wi.z
        };
        bin_probabilities(&f, Domain::Hemisphere).iter().sum()
    }

    #[test]
    fn rough_dielectrics_keep_the_look_of_appendix_b() {
        for c in [1.0, 0.5] {
            for degrees in TABLE_DEGREES {
                let wo = degrees_dir(degrees);
                let spec = appendix_b_dielectric_albedo(c, 1.0, wo);
                let ours = albedo(&Bsdf::new(Vec3::splat(c), 0.0, 1.0, 1.5, 0.0, false), wo, 200_000, 1.0).0;
                assert!((ours / spec - 1.0).abs() < 0.03, "base {c}, θo {degrees}°: {ours} vs Appendix B {spec}");
            }
        }
    }

    #[test]
    fn rough_glass_conserves_energy_on_both_sides() {
        // Energy is conserved by the importance BTDF: the radiance BTDF times
        // (η_i / η_o)². From outside that factor is ior², from inside 1/ior².
        for roughness in FURNACE_ROUGHNESS {
            for cos in FURNACE_COS {
                let bsdf = glass(roughness);
                for (side, wo, scale) in [("outside", cos_dir(cos), 2.25), ("inside", -cos_dir(cos), 1.0 / 2.25)] {
                    let what = format!("{side}, roughness {roughness}, cos θo {cos}");
                    assert_no_gain(albedo(&bsdf, wo, 20_000, scale), &what);
                    if side == "outside" {
                        assert_no_gain(albedo(&bsdf, wo, 20_000, 1.0), &what);
                    }
                }
            }
        }
    }

    #[test]
    fn smooth_glass_transmits_radiance_scaled_by_eta_squared() {
        // Nearly smooth glass at normal incidence: R = F0, and the radiance
        // transmitted from outside is (1 − F0) / η² (from inside, × η²).
        let bsdf = glass(0.0);
        let f0 = dielectric_f0(1.5) as f64;
        for (side, wo, scale) in [("outside", Vec3::Z, 1.0 / 2.25), ("inside", -Vec3::Z, 2.25)] {
            let r = albedo(&bsdf, wo, 100_000, 0.0).0;
            let t = albedo(&bsdf, wo, 100_000, 1.0).0 - r;
            assert!((r - f0).abs() < 2e-3, "{side}: R = {r}, F0 = {f0}");
            assert!((t - (1.0 - f0) * scale).abs() < 5e-3, "{side}: T = {t}");
        }
    }

    #[test]
    fn lambert_integrates_to_one() {
        // Stratified uniform sphere directions: independent of the sampler.
        let bsdf = Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.0, 0.0, false);
        let n = 1024u32;
        for cos in [1.0, 0.5, 0.05] {
            let wo = cos_dir(cos);
            let mut sum = 0.0f64;
            for i in 0..n * n {
                let [a, b, ..] = rand4(13, i, 0, 0, 0);
                let u = Vec2::new(((i % n) as f32 + a) / n as f32, ((i / n) as f32 + b) / n as f32);
                sum += (bsdf.eval(wo, square_to_uniform_sphere(u)).x / uniform_sphere_pdf()) as f64;
            }
            let albedo = sum / (n * n) as f64;
            assert!((albedo - 1.0).abs() < 0.005, "cos θo {cos}: albedo {albedo}");
        }
    }
}
