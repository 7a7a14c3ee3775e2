//! Small glTF documents for tests, kept as JSON so that a test can break any field,
//! and written as `.gltf` (external or embedded buffer) or `.glb`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{json, Value};

pub struct Doc {
    pub json: Value,
    pub bin: Vec<u8>,
}

impl Doc {
    pub fn new() -> Self {
        let json = json!({
            "asset": { "version": "2.0" },
            "scene": 0,
            "scenes": [{ "nodes": [] }],
            "nodes": [], "meshes": [], "accessors": [], "bufferViews": [],
            "buffers": [{ "byteLength": 0 }],
        });
        Doc { json, bin: Vec::new() }
    }

    fn push_view(&mut self, bytes: &[u8]) -> usize {
        while self.bin.len() % 4 != 0 {
            self.bin.push(0);
        }
        let view = json!({ "buffer": 0, "byteOffset": self.bin.len(), "byteLength": bytes.len() });
        self.bin.extend_from_slice(bytes);
        self.json["buffers"][0]["byteLength"] = json!(self.bin.len());
        push(&mut self.json["bufferViews"], view)
    }

    /// An f32 accessor of type `ty` ("VEC2", "VEC3", ...); VEC3 gets min/max.
    pub fn floats(&mut self, values: &[f32], ty: &str) -> usize {
        let dims = match ty {
            "SCALAR" => 1,
            "VEC2" => 2,
            "VEC3" => 3,
            _ => 4,
        };
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = self.push_view(&bytes);
        let mut accessor =
            json!({ "bufferView": view, "componentType": 5126, "count": values.len() / dims, "type": ty });
        if dims == 3 {
            let axis = |a: usize| values.iter().skip(a).step_by(3).copied();
            let lo: Vec<f32> = (0..3).map(|a| axis(a).fold(f32::INFINITY, f32::min)).collect();
            let hi: Vec<f32> = (0..3).map(|a| axis(a).fold(f32::NEG_INFINITY, f32::max)).collect();
            // JSON has no NaN: bounds of broken data are written as 0.
            let clean = |v: Vec<f32>| v.into_iter().map(|x| if x.is_finite() { x } else { 0.0 }).collect::<Vec<_>>();
            accessor["min"] = json!(clean(lo));
            accessor["max"] = json!(clean(hi));
        }
        push(&mut self.json["accessors"], accessor)
    }

    pub fn indices(&mut self, values: &[u16]) -> usize {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = self.push_view(&bytes);
        let accessor = json!({ "bufferView": view, "componentType": 5123, "count": values.len(), "type": "SCALAR" });
        push(&mut self.json["accessors"], accessor)
    }

    /// A mesh with one primitive, placed by a new root node; returns the mesh index.
    pub fn mesh(&mut self, primitive: Value) -> usize {
        let mesh = push(&mut self.json["meshes"], json!({ "primitives": [primitive] }));
        let node = push(&mut self.json["nodes"], json!({ "mesh": mesh }));
        push(&mut self.json["scenes"][0]["nodes"], json!(node));
        mesh
    }

    /// A triangle list mesh from positions and indices.
    pub fn triangles(&mut self, positions: &[[f32; 3]], indices: &[u16]) -> usize {
        let flat: Vec<f32> = positions.iter().flatten().copied().collect();
        let pos = self.floats(&flat, "VEC3");
        let idx = self.indices(indices);
        self.mesh(json!({ "attributes": { "POSITION": pos }, "indices": idx }))
    }

    /// Writes `name` in `dir` with the buffer embedded as a data URI.
    pub fn write_embedded(&self, dir: &Path, name: &str) -> PathBuf {
        let mut json = self.json.clone();
        let data = base64::engine::general_purpose::STANDARD.encode(&self.bin);
        json["buffers"][0]["uri"] = json!(format!("data:application/octet-stream;base64,{data}"));
        write(dir.join(name), serde_json::to_vec(&json).unwrap())
    }

    /// Writes `name` in `dir`, and the buffer to `bin_file` referenced as `bin_uri`.
    pub fn write_external(&self, dir: &Path, name: &str, bin_file: &str, bin_uri: &str) -> PathBuf {
        let mut json = self.json.clone();
        json["buffers"][0]["uri"] = json!(bin_uri);
        std::fs::write(dir.join(bin_file), &self.bin).unwrap();
        write(dir.join(name), serde_json::to_vec(&json).unwrap())
    }

    /// The document as GLB bytes (buffer 0 in the BIN chunk).
    pub fn glb(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec(&self.json).unwrap();
        while json.len() % 4 != 0 {
            json.push(b' ');
        }
        let mut bin = self.bin.clone();
        while bin.len() % 4 != 0 {
            bin.push(0);
        }
        let mut out = b"glTF".to_vec();
        out.extend(2u32.to_le_bytes());
        out.extend((28 + json.len() as u32 + bin.len() as u32).to_le_bytes());
        out.extend((json.len() as u32).to_le_bytes());
        out.extend(b"JSON");
        out.extend(json);
        out.extend((bin.len() as u32).to_le_bytes());
        out.extend(b"BIN\0");
        out.extend(bin);
        out
    }
}

fn push(array: &mut Value, value: Value) -> usize {
    let array = array.as_array_mut().unwrap();
    array.push(value);
    array.len() - 1
}

fn write(path: PathBuf, bytes: Vec<u8>) -> PathBuf {
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A unit quad in the XY plane facing +Z.
pub const QUAD: [[f32; 3]; 4] = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]];
pub const QUAD_INDICES: [u16; 6] = [0, 1, 2, 0, 2, 3];

/// Base colour of the unlit panel in [`unlit_panel_over_floor`].
pub const UNLIT_COLOR: [f32; 3] = [0.9, 0.4, 0.1];

/// A white diffuse floor (y = 0, side 2) and a double-sided KHR_materials_unlit
/// panel standing on it (x in ±0.5, y in 0..0.6, z = -0.5, facing +Z) in
/// [`UNLIT_COLOR`] (`unlit` false: the same panel as a black dielectric). Camera 0
/// looks at both from the front and above; camera 1, orthographic, sees nothing
/// but the panel.
pub fn unlit_panel_over_floor(dir: &Path, unlit: bool) -> PathBuf {
    let [r, g, b] = UNLIT_COLOR;
    let mut panel_material = json!({
        "doubleSided": true,
        "pbrMetallicRoughness": { "baseColorFactor": [r, g, b, 1.0], "metallicFactor": 0.0 },
    });
    let mut extensions = vec![];
    if unlit {
        panel_material["extensions"] = json!({ "KHR_materials_unlit": {} });
        extensions.push("KHR_materials_unlit");
    } else {
        panel_material["pbrMetallicRoughness"]["baseColorFactor"] = json!([0.0, 0.0, 0.0, 1.0]);
    }
    let floor_material = json!({ "doubleSided": true, "pbrMetallicRoughness": { "baseColorFactor": [0.8, 0.8, 0.8, 1.0], "metallicFactor": 0.0 } });
    let doc = panel_over_floor(floor_material, panel_material, &extensions);
    doc.write_embedded(dir, if unlit { "unlit.gltf" } else { "black.gltf" })
}

/// The floor and panel of [`unlit_panel_over_floor`] in materials 0 and 1, with
/// `extensions` used, and its cameras. The floor's UVs run 0..2 (textures repeat
/// twice), the panel's 0..1.
fn panel_over_floor(floor_material: Value, panel_material: Value, extensions: &[&str]) -> Doc {
    let mut doc = Doc::new();
    let floor = doc.floats(&[-1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, -1.0, -1.0, 0.0, -1.0], "VEC3");
    let floor_uv = doc.floats(&[0.0, 0.0, 2.0, 0.0, 2.0, 2.0, 0.0, 2.0], "VEC2");
    let panel = doc.floats(&[-0.5, 0.0, -0.5, 0.5, 0.0, -0.5, 0.5, 0.6, -0.5, -0.5, 0.6, -0.5], "VEC3");
    let panel_uv = doc.floats(&[0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0], "VEC2");
    let idx = doc.indices(&[0, 1, 2, 0, 2, 3]);
    if !extensions.is_empty() {
        doc.json["extensionsUsed"] = json!(extensions);
    }
    doc.json["materials"] = json!([floor_material, panel_material]);
    doc.json["meshes"] = json!([
        { "primitives": [{ "attributes": { "POSITION": floor, "TEXCOORD_0": floor_uv }, "indices": idx, "material": 0 }] },
        { "primitives": [{ "attributes": { "POSITION": panel, "TEXCOORD_0": panel_uv }, "indices": idx, "material": 1 }] },
    ]);
    doc.json["cameras"] = json!([
        { "type": "perspective", "perspective": { "yfov": 0.8, "znear": 0.01 } },
        { "type": "orthographic", "orthographic": { "xmag": 0.2, "ymag": 0.2, "znear": 0.01, "zfar": 10.0 } },
    ]);
    // Camera 0 at (0, 1, 2) pitched down by atan(1/2.5) about X.
    let pitch = -(1.0f32 / 2.5).atan() / 2.0;
    doc.json["nodes"] = json!([
        { "mesh": 0 },
        { "mesh": 1 },
        { "camera": 0, "translation": [0.0, 1.0, 2.0], "rotation": [pitch.sin(), 0.0, 0.0, pitch.cos()] },
        { "camera": 1, "translation": [0.0, 0.3, 1.0] },
    ]);
    doc.json["scenes"] = json!([{ "nodes": [0, 1, 2, 3] }]);
    doc
}

/// A closed box of clear glass (index 1, smooth) filling x, y in ±1 and z in
/// [−thickness, 0], with KHR_materials_volume absorption `colour` over `distance`
/// (`None`: a clear volume). Camera 0, orthographic, looks down −Z through the
/// middle of the front face, so every camera ray crosses `thickness` of the medium
/// at normal incidence and then leaves to the environment.
pub fn absorbing_slab(dir: &Path, thickness: f32, attenuation: Option<([f32; 3], f32)>) -> PathBuf {
    let mut doc = Doc::new();
    let corners: Vec<f32> = (0..8)
        .flat_map(|i| {
            let pick = |bit: usize, low: f32, high: f32| if i & bit != 0 { high } else { low };
            [pick(1, -1.0, 1.0), pick(2, -1.0, 1.0), pick(4, -thickness, 0.0)]
        })
        .collect();
    let positions = doc.floats(&corners, "VEC3");
    // Wound counter-clockwise seen from outside: the normals point out.
    let faces =
        [4, 5, 7, 4, 7, 6, 0, 2, 3, 0, 3, 1, 1, 3, 7, 1, 7, 5, 0, 4, 6, 0, 6, 2, 2, 6, 7, 2, 7, 3, 0, 1, 5, 0, 5, 4];
    let indices = doc.indices(&faces);
    let mut volume = json!({ "thicknessFactor": thickness });
    if let Some((colour, distance)) = attenuation {
        volume["attenuationColor"] = json!(colour);
        volume["attenuationDistance"] = json!(distance);
    }
    doc.json["extensionsUsed"] = json!(["KHR_materials_transmission", "KHR_materials_volume", "KHR_materials_ior"]);
    doc.json["materials"] = json!([{
        "pbrMetallicRoughness": { "baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.0 },
        "extensions": {
            "KHR_materials_transmission": { "transmissionFactor": 1.0 },
            "KHR_materials_volume": volume,
            "KHR_materials_ior": { "ior": 1.0 },
        },
    }]);
    doc.json["meshes"] =
        json!([{ "primitives": [{ "attributes": { "POSITION": positions }, "indices": indices, "material": 0 }] }]);
    doc.json["cameras"] =
        json!([{ "type": "orthographic", "orthographic": { "xmag": 0.2, "ymag": 0.2, "znear": 0.01, "zfar": 10.0 } }]);
    doc.json["nodes"] = json!([{ "mesh": 0 }, { "camera": 0, "translation": [0.0, 0.0, 1.0] }]);
    doc.json["scenes"] = json!([{ "nodes": [0, 1] }]);
    doc.write_embedded(dir, "slab.gltf")
}

/// KHR_materials_sheen: the sheen of the floor and of the panel of
/// [`sheen_panel_over_floor`] (colour, roughness).
pub const SHEEN_FLOOR: ([f32; 3], f32) = ([1.0, 1.0, 1.0], 0.5);
pub const SHEEN_PANEL: ([f32; 3], f32) = ([1.0, 0.6, 0.3], 0.3);

/// [`unlit_panel_over_floor`]'s floor and panel as fabric: a grey floor under
/// a white sheen and a dark blue panel under an orange one ([`SHEEN_FLOOR`],
/// [`SHEEN_PANEL`]), seen by the same cameras.
pub fn sheen_panel_over_floor(dir: &Path) -> PathBuf {
    let sheen = |(colour, roughness): ([f32; 3], f32)| json!({ "KHR_materials_sheen": { "sheenColorFactor": colour, "sheenRoughnessFactor": roughness } });
    let floor = json!({ "pbrMetallicRoughness": { "baseColorFactor": [0.5, 0.5, 0.5, 1.0], "metallicFactor": 0.0 },
                        "extensions": sheen(SHEEN_FLOOR) });
    let panel = json!({ "doubleSided": true,
                        "pbrMetallicRoughness": { "baseColorFactor": [0.05, 0.08, 0.3, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.7 },
                        "extensions": sheen(SHEEN_PANEL) });
    panel_over_floor(floor, panel, &["KHR_materials_sheen"]).write_embedded(dir, "sheen.gltf")
}

/// KHR_materials_anisotropy: the (strength, rotation) of the floor and of the
/// panel of [`brushed_panel_over_floor`].
pub const ANISOTROPY_FLOOR: (f32, f32) = (0.8, 0.6);
pub const ANISOTROPY_PANEL: (f32, f32) = (1.0, -1.0);

/// The texels of [`brushed_panel_over_floor`]'s anisotropy texture (2 × 2, RGB:
/// direction in red and green mapped from [−1, 1], strength in blue).
pub const ANISOTROPY_TEXELS: [u8; 12] = [255, 128, 255, 128, 255, 200, 218, 218, 128, 37, 128, 255];

/// [`unlit_panel_over_floor`]'s floor and panel as brushed materials: a rough
/// gold floor ([`ANISOTROPY_FLOOR`]) whose anisotropy texture turns the brushing
/// direction and weakens it from texel to texel, and a smooth red plastic panel
/// ([`ANISOTROPY_PANEL`]) whose layer KHR_materials_specular tints (a factor and
/// the same texture, read as an sRGB colour).
pub fn brushed_panel_over_floor(dir: &Path) -> PathBuf {
    write_texels(dir);
    let anisotropy =
        |(strength, rotation): (f32, f32)| json!({ "anisotropyStrength": strength, "anisotropyRotation": rotation });
    let mut floor_anisotropy = anisotropy(ANISOTROPY_FLOOR);
    floor_anisotropy["anisotropyTexture"] = json!({ "index": 0 });
    let floor = json!({ "pbrMetallicRoughness": { "baseColorFactor": [1.0, 0.8, 0.4, 1.0], "metallicFactor": 1.0, "roughnessFactor": 0.4 },
                        "extensions": { "KHR_materials_anisotropy": floor_anisotropy } });
    let panel = json!({ "doubleSided": true,
                        "pbrMetallicRoughness": { "baseColorFactor": [0.6, 0.1, 0.05, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.15 },
                        "extensions": {
                            "KHR_materials_anisotropy": anisotropy(ANISOTROPY_PANEL),
                            "KHR_materials_specular": { "specularColorFactor": [1.0, 0.6, 3.0], "specularColorTexture": { "index": 0 } },
                        } });
    let mut doc = panel_over_floor(floor, panel, &["KHR_materials_anisotropy", "KHR_materials_specular"]);
    doc.json["images"] = json!([{ "uri": "brushing.png" }]);
    doc.json["textures"] = json!([{ "source": 0 }]);
    doc.write_embedded(dir, "brushed.gltf")
}

/// Writes [`ANISOTROPY_TEXELS`] to `brushing.png` in `dir`.
fn write_texels(dir: &Path) {
    let texture = image::RgbImage::from_raw(2, 2, ANISOTROPY_TEXELS.to_vec()).unwrap();
    texture.save(dir.join("brushing.png")).unwrap();
}

/// KHR_materials_iridescence of the floor of [`filmed_panel_over_floor`]:
/// factor, index, thickness minimum and maximum (nm).
pub const FILM_FLOOR: [f32; 4] = [1.0, 1.3, 200.0, 800.0];

/// [`unlit_panel_over_floor`]'s floor and panel under thin films: a rough metal
/// floor ([`FILM_FLOOR`]) whose film thickness and factor follow the texels of
/// [`ANISOTROPY_TEXELS`] (green and red), and a dark plastic panel under a film
/// of the extension's default thickness range.
pub fn filmed_panel_over_floor(dir: &Path) -> PathBuf {
    write_texels(dir);
    let [factor, ior, min, max] = FILM_FLOOR;
    let floor = json!({ "pbrMetallicRoughness": { "baseColorFactor": [0.9, 0.9, 0.9, 1.0], "metallicFactor": 1.0, "roughnessFactor": 0.3 },
                        "extensions": { "KHR_materials_iridescence": {
                            "iridescenceFactor": factor, "iridescenceIor": ior,
                            "iridescenceThicknessMinimum": min, "iridescenceThicknessMaximum": max,
                            "iridescenceTexture": { "index": 0 }, "iridescenceThicknessTexture": { "index": 0 } } } });
    let panel = json!({ "doubleSided": true,
                        "pbrMetallicRoughness": { "baseColorFactor": [0.05, 0.05, 0.1, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.1 },
                        "extensions": { "KHR_materials_iridescence": { "iridescenceFactor": 0.8, "iridescenceIor": 1.8 } } });
    let mut doc = panel_over_floor(floor, panel, &["KHR_materials_iridescence"]);
    doc.json["images"] = json!([{ "uri": "brushing.png" }]);
    doc.json["textures"] = json!([{ "source": 0 }]);
    doc.write_embedded(dir, "filmed.gltf")
}
