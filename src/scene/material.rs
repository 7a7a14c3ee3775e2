//! glTF materials as flat materials: metallic-roughness factors and textures, normal
//! and emissive maps, alpha modes, and the KHR extensions Tessera renders. Textures
//! are deduplicated by (image, sampler, colour space).

use std::collections::HashMap;

use gltf::texture::{MagFilter, MinFilter, WrappingMode};
use gltf::Document;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::flat::{self, TextureSlot};

/// A texture as materials use it: a decoded image plus sampling flags
/// (`TEX_SRGB`, `TEX_NEAREST`, wrap modes; see [`flat::Texture`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Texture {
    /// Index into [`super::Scene::images`].
    pub image: usize,
    pub flags: u32,
}

/// Materials of a document, with the textures and images they use (images in
/// first-use order, to be decoded by the caller).
pub(crate) struct Materials<'a> {
    pub materials: Vec<flat::Material>,
    /// Per material: the UV set its tangents follow, when it needs them (a
    /// normal map or anisotropy).
    pub normal_uv: Vec<Option<u32>>,
    pub textures: Vec<Texture>,
    pub images: Vec<gltf::Image<'a>>,
    pub warnings: Vec<String>,
}

/// KHR_texture_transform, as found in a texture reference.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct TextureTransform {
    offset: [f32; 2],
    rotation: f32,
    scale: [f32; 2],
    tex_coord: Option<u32>,
}

impl Default for TextureTransform {
    fn default() -> Self {
        Self { offset: [0.0; 2], rotation: 0.0, scale: [1.0; 2], tex_coord: None }
    }
}

impl TextureTransform {
    fn of_info(info: &gltf::texture::Info) -> Self {
        info.texture_transform().map_or_else(Self::default, |t| Self {
            offset: t.offset(),
            rotation: t.rotation(),
            scale: t.scale(),
            tex_coord: t.tex_coord(),
        })
    }

    /// The extension on references the gltf crate does not parse it for (normal maps).
    fn of_value(value: Option<&serde_json::Value>) -> Self {
        value.and_then(|v| Self::deserialize(v).ok()).unwrap_or_default()
    }

    /// Rows of `translation * rotation * scale` as the extension defines them.
    fn rows(&self) -> ([f32; 4], [f32; 4]) {
        let (s, c) = self.rotation.sin_cos();
        let [sx, sy] = self.scale;
        let [ox, oy] = self.offset;
        ([c * sx, s * sy, ox, 0.0], [-s * sx, c * sy, oy, 0.0])
    }
}

/// A texture reference inside an extension the gltf crate does not parse.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TextureRef {
    pub index: usize,
    #[serde(default)]
    tex_coord: u32,
    /// A normal texture's scale.
    #[serde(default = "one")]
    pub scale: f32,
    #[serde(default)]
    extensions: HashMap<String, serde_json::Value>,
}

fn one() -> f32 {
    1.0
}

/// KHR_materials_clearcoat, read from the material's extension JSON (the gltf
/// crate does not parse it).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Clearcoat {
    pub clearcoat_factor: f32,
    pub clearcoat_texture: Option<TextureRef>,
    pub clearcoat_roughness_factor: f32,
    pub clearcoat_roughness_texture: Option<TextureRef>,
    pub clearcoat_normal_texture: Option<TextureRef>,
}

/// A material extension the gltf crate does not parse, read from its JSON.
pub(crate) trait MaterialExtension: DeserializeOwned {
    const NAME: &'static str;

    /// The material's extension, `None` without it; a malformed one is an error message.
    fn of(m: &gltf::Material) -> Option<Result<Self, String>> {
        let value = m.extension_value(Self::NAME)?;
        Some(Self::deserialize(value).map_err(|e| format!("cannot be read: {e}")))
    }
}

impl MaterialExtension for Clearcoat {
    const NAME: &'static str = "KHR_materials_clearcoat";
}

impl Clearcoat {
    /// The texture references with their field names.
    pub(crate) fn textures(&self) -> [(&'static str, Option<&TextureRef>); 3] {
        [
            ("clearcoatTexture", self.clearcoat_texture.as_ref()),
            ("clearcoatRoughnessTexture", self.clearcoat_roughness_texture.as_ref()),
            ("clearcoatNormalTexture", self.clearcoat_normal_texture.as_ref()),
        ]
    }
}

/// KHR_materials_sheen, read from the material's extension JSON (the gltf
/// crate does not parse it).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Sheen {
    pub sheen_color_factor: [f32; 3],
    pub sheen_color_texture: Option<TextureRef>,
    pub sheen_roughness_factor: f32,
    pub sheen_roughness_texture: Option<TextureRef>,
}

impl MaterialExtension for Sheen {
    const NAME: &'static str = "KHR_materials_sheen";
}

impl Sheen {
    /// The texture references with their field names.
    pub(crate) fn textures(&self) -> [(&'static str, Option<&TextureRef>); 2] {
        [
            ("sheenColorTexture", self.sheen_color_texture.as_ref()),
            ("sheenRoughnessTexture", self.sheen_roughness_texture.as_ref()),
        ]
    }
}

/// KHR_materials_anisotropy, read from the material's extension JSON (the
/// gltf crate does not parse it).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Anisotropy {
    pub anisotropy_strength: f32,
    /// Radians, counter-clockwise from the tangent.
    pub anisotropy_rotation: f32,
    pub anisotropy_texture: Option<TextureRef>,
}

impl MaterialExtension for Anisotropy {
    const NAME: &'static str = "KHR_materials_anisotropy";
}

impl Anisotropy {
    /// The texture references with their field names.
    pub(crate) fn textures(&self) -> [(&'static str, Option<&TextureRef>); 1] {
        [("anisotropyTexture", self.anisotropy_texture.as_ref())]
    }
}

/// KHR_materials_iridescence, read from the material's extension JSON (the
/// gltf crate does not parse it).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Iridescence {
    pub iridescence_factor: f32,
    pub iridescence_texture: Option<TextureRef>,
    pub iridescence_ior: f32,
    /// Nanometres.
    pub iridescence_thickness_minimum: f32,
    pub iridescence_thickness_maximum: f32,
    pub iridescence_thickness_texture: Option<TextureRef>,
}

impl Default for Iridescence {
    /// The extension's defaults.
    fn default() -> Self {
        Iridescence {
            iridescence_factor: 0.0,
            iridescence_texture: None,
            iridescence_ior: 1.3,
            iridescence_thickness_minimum: 100.0,
            iridescence_thickness_maximum: 400.0,
            iridescence_thickness_texture: None,
        }
    }
}

impl MaterialExtension for Iridescence {
    const NAME: &'static str = "KHR_materials_iridescence";
}

impl Iridescence {
    /// The texture references with their field names.
    pub(crate) fn textures(&self) -> [(&'static str, Option<&TextureRef>); 2] {
        [
            ("iridescenceTexture", self.iridescence_texture.as_ref()),
            ("iridescenceThicknessTexture", self.iridescence_thickness_texture.as_ref()),
        ]
    }
}

struct Builder<'a> {
    textures: Vec<Texture>,
    texture_index: HashMap<Texture, u32>,
    images: Vec<gltf::Image<'a>>,
    image_index: HashMap<usize, usize>,
    warnings: Vec<String>,
}

impl<'a> Builder<'a> {
    fn slot(
        &mut self,
        texture: gltf::Texture<'a>,
        tex_coord: u32,
        transform: TextureTransform,
        srgb: bool,
        field: String,
    ) -> TextureSlot {
        let source = texture.source();
        let next = self.images.len();
        let image = *self.image_index.entry(source.index()).or_insert(next);
        if image == next {
            self.images.push(source);
        }
        let flags = sampler_flags(&texture.sampler()) | if srgb { flat::TEX_SRGB } else { 0 };
        let key = Texture { image, flags };
        let next = self.textures.len() as u32;
        let index = *self.texture_index.entry(key).or_insert(next);
        if index == next {
            self.textures.push(key);
        }
        let mut texcoord = transform.tex_coord.unwrap_or(tex_coord);
        if texcoord > 1 {
            self.warnings.push(format!("{field} uses TEXCOORD_{texcoord}; only sets 0 and 1 are read, using 0"));
            texcoord = 0;
        }
        let (row_u, row_v) = transform.rows();
        TextureSlot { texture: index, texcoord, row_u, row_v, ..TextureSlot::EMPTY }
    }

    /// A slot for an extension's texture reference (its index checked by `values`).
    fn ref_slot(&mut self, doc: &'a Document, r: Option<&TextureRef>, srgb: bool, field: String) -> TextureSlot {
        let Some(r) = r else { return TextureSlot::EMPTY };
        let Some(texture) = doc.textures().nth(r.index) else { return TextureSlot::EMPTY };
        let transform = TextureTransform::of_value(r.extensions.get("KHR_texture_transform"));
        self.slot(texture, r.tex_coord, transform, srgb, field)
    }

    fn info_slot(&mut self, info: Option<gltf::texture::Info<'a>>, srgb: bool, field: String) -> TextureSlot {
        info.map_or(TextureSlot::EMPTY, |info| {
            self.slot(info.texture(), info.tex_coord(), TextureTransform::of_info(&info), srgb, field)
        })
    }
}

fn sampler_flags(sampler: &gltf::texture::Sampler) -> u32 {
    let wrap = |mode| match mode {
        WrappingMode::ClampToEdge => flat::WRAP_CLAMP,
        WrappingMode::MirroredRepeat => flat::WRAP_MIRROR,
        WrappingMode::Repeat => flat::WRAP_REPEAT,
    };
    let nearest = match sampler.mag_filter() {
        Some(filter) => filter == MagFilter::Nearest,
        None => matches!(sampler.min_filter(), Some(MinFilter::Nearest | MinFilter::NearestMipmapNearest)),
    };
    (wrap(sampler.wrap_s()) << flat::WRAP_S_SHIFT)
        | (wrap(sampler.wrap_t()) << flat::WRAP_T_SHIFT)
        | if nearest { flat::TEX_NEAREST } else { 0 }
}

/// Converts every material of `doc`.
pub(crate) fn load_materials(doc: &Document) -> Materials<'_> {
    let mut b = Builder {
        textures: Vec::new(),
        texture_index: HashMap::new(),
        images: Vec::new(),
        image_index: HashMap::new(),
        warnings: Vec::new(),
    };
    let mut normal_uv = Vec::new();
    let materials = doc
        .materials()
        .map(|m| {
            let i = m.index().unwrap_or(0);
            let field = |name: &str| format!("materials[{i}].{name}");
            let pbr = m.pbr_metallic_roughness();
            let mut out = flat::Material {
                base_color: pbr.base_color_factor(),
                metallic: pbr.metallic_factor(),
                roughness: pbr.roughness_factor(),
                emission: m.emissive_factor().map(|e| e * m.emissive_strength().unwrap_or(1.0)),
                // KHR_materials_ior's 0 means an infinite index (checked in `values`).
                ior: m.ior().map_or(1.5, |ior| if ior == 0.0 { crate::sampling::bsdf::MAX_IOR } else { ior }),
                alpha_cutoff: m.alpha_cutoff().unwrap_or(0.5),
                base_color_tex: b.info_slot(
                    pbr.base_color_texture(),
                    true,
                    field("pbrMetallicRoughness.baseColorTexture"),
                ),
                metallic_roughness_tex: b.info_slot(
                    pbr.metallic_roughness_texture(),
                    false,
                    field("pbrMetallicRoughness.metallicRoughnessTexture"),
                ),
                emissive_tex: b.info_slot(m.emissive_texture(), true, field("emissiveTexture")),
                ..flat::Material::default()
            };
            if let Some(normal) = m.normal_texture() {
                let transform = TextureTransform::of_value(normal.extension_value("KHR_texture_transform"));
                out.normal_tex = b.slot(normal.texture(), normal.tex_coord(), transform, false, field("normalTexture"));
                out.normal_scale = normal.scale();
            }
            if let Some(Ok(coat)) = Clearcoat::of(&m) {
                let [(tex, tex_ref), (roughness, roughness_ref), (normal, normal_ref)] = coat.textures();
                let field = |name: &str| field(&format!("extensions.KHR_materials_clearcoat.{name}"));
                out.clearcoat = coat.clearcoat_factor;
                out.clearcoat_roughness = coat.clearcoat_roughness_factor;
                out.clearcoat_tex = b.ref_slot(doc, tex_ref, false, field(tex));
                out.clearcoat_roughness_tex = b.ref_slot(doc, roughness_ref, false, field(roughness));
                out.clearcoat_normal_tex = b.ref_slot(doc, normal_ref, false, field(normal));
                out.clearcoat_normal_scale = normal_ref.map_or(1.0, |r| r.scale);
            }
            if let Some(Ok(sheen)) = Sheen::of(&m) {
                let [(color, color_ref), (roughness, roughness_ref)] = sheen.textures();
                let field = |name: &str| field(&format!("extensions.KHR_materials_sheen.{name}"));
                out.sheen_color = sheen.sheen_color_factor;
                out.sheen_roughness = sheen.sheen_roughness_factor;
                // The colour texture is sRGB-encoded, the roughness (alpha) linear.
                out.sheen_color_tex = b.ref_slot(doc, color_ref, true, field(color));
                out.sheen_roughness_tex = b.ref_slot(doc, roughness_ref, false, field(roughness));
            }
            if let Some(Ok(anisotropy)) = Anisotropy::of(&m) {
                let [(tex, tex_ref)] = anisotropy.textures();
                let field = |name: &str| field(&format!("extensions.KHR_materials_anisotropy.{name}"));
                let (sin, cos) = anisotropy.anisotropy_rotation.sin_cos();
                out.anisotropy_rotation = [cos, sin];
                out.anisotropy_strength = anisotropy.anisotropy_strength;
                // Direction (red, green) and strength (blue) are linear.
                out.anisotropy_tex = b.ref_slot(doc, tex_ref, false, field(tex));
            }
            if let Some(Ok(film)) = Iridescence::of(&m) {
                let [(tex, tex_ref), (thickness, thickness_ref)] = film.textures();
                let field = |name: &str| field(&format!("extensions.KHR_materials_iridescence.{name}"));
                out.iridescence = film.iridescence_factor;
                out.iridescence_ior = film.iridescence_ior;
                out.iridescence_thickness_min = film.iridescence_thickness_minimum;
                out.iridescence_thickness_max = film.iridescence_thickness_maximum;
                // Factor (red) and thickness (green) are linear.
                out.iridescence_tex = b.ref_slot(doc, tex_ref, false, field(tex));
                out.iridescence_thickness_tex = b.ref_slot(doc, thickness_ref, false, field(thickness));
            }
            // Tangents are needed for either normal map and for anisotropy (the
            // base's UV set first; anisotropy without a texture uses set 0).
            let tangent_maps = [out.normal_tex, out.clearcoat_normal_tex, out.anisotropy_tex];
            let tangent_uv = tangent_maps.iter().find(|s| s.texture != flat::NONE).map(|s| s.texcoord);
            normal_uv.push(tangent_uv.or((out.anisotropy_strength > 0.0).then_some(0)));
            out.flags |= match m.alpha_mode() {
                gltf::material::AlphaMode::Mask => flat::MAT_ALPHA_MASK,
                gltf::material::AlphaMode::Blend => flat::MAT_ALPHA_BLEND,
                gltf::material::AlphaMode::Opaque => 0,
            };
            if m.double_sided() {
                out.flags |= flat::MAT_DOUBLE_SIDED;
            }
            if m.unlit() {
                out.flags |= flat::MAT_UNLIT;
            }
            if let Some(t) = m.transmission() {
                out.transmission = t.transmission_factor();
                out.transmission_tex = b.info_slot(
                    t.transmission_texture(),
                    false,
                    field("extensions.KHR_materials_transmission.transmissionTexture"),
                );
                // glTF: without a volume (or with zero thickness) the surface is thin-walled.
                match m.volume().filter(|v| v.thickness_factor() > 0.0) {
                    None => out.flags |= flat::MAT_THIN_WALLED,
                    Some(v) => out.attenuation = absorption(v.attenuation_color(), v.attenuation_distance()),
                }
            }
            if let Some(s) = m.specular() {
                out.specular = s.specular_factor();
                out.specular_tex = b.info_slot(
                    s.specular_texture(),
                    false,
                    field("extensions.KHR_materials_specular.specularTexture"),
                );
                out.specular_color = s.specular_color_factor();
                // The colour texture is sRGB-encoded.
                out.specular_color_tex = b.info_slot(
                    s.specular_color_texture(),
                    true,
                    field("extensions.KHR_materials_specular.specularColorTexture"),
                );
            }
            out
        })
        .collect();
    Materials { materials, normal_uv, textures: b.textures, images: b.images, warnings: b.warnings }
}

/// Beer–Lambert absorption coefficient per channel: light that travels
/// `distance` through the medium keeps the fraction `colour`. An infinite
/// distance (the default) is a clear medium; a zero channel absorbs everything
/// after any finite path (clamped to stay finite).
fn absorption(colour: [f32; 3], distance: f32) -> [f32; 3] {
    if !distance.is_finite() {
        return [0.0; 3];
    }
    colour.map(|c| -c.max(f32::MIN_POSITIVE).ln() / distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texture_transform_rows_match_the_extension() {
        let t = TextureTransform {
            offset: [0.5, 0.25],
            rotation: std::f32::consts::FRAC_PI_2,
            scale: [2.0, 3.0],
            tex_coord: None,
        };
        let (ru, rv) = t.rows();
        // The extension's matrix maps (1, 0) to offset + R * (sx, 0), R = [c s; -s c].
        let apply = |u: f32, v: f32| (ru[0] * u + ru[1] * v + ru[2], rv[0] * u + rv[1] * v + rv[2]);
        let (u, v) = apply(1.0, 0.0);
        assert!((u - 0.5).abs() < 1e-6 && (v - (0.25 - 2.0)).abs() < 1e-6, "{u} {v}");
        let (u, v) = apply(0.0, 1.0);
        assert!((u - 3.5).abs() < 1e-6 && (v - 0.25).abs() < 1e-6, "{u} {v}");
        let (ru, rv) = TextureTransform::default().rows();
        assert_eq!((ru, rv), (TextureSlot::EMPTY.row_u, TextureSlot::EMPTY.row_v));
    }
}
