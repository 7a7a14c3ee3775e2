//! The Cornell box as glTF, from the measured geometry published by the Cornell
//! University Program of Computer Graphics (millimetres, converted to metres).
//!
//! Reflectances are the common RGB approximations; the light is an emissive quad
//! just below the ceiling with radiance (17, 12, 4), stored as an `emissiveFactor`
//! normalised to a maximum of 1 times KHR_materials_emissive_strength. The camera
//! is the measured one: at (278, 273, -800) mm looking down +Z, 35 mm lens on a
//! 25 mm film (vertical field of view ≈ 39.3°). Normals are left out: glTF then
//! prescribes flat shading, which is exact for these planar faces.

use base64::Engine;
use glam::Vec3;
use serde_json::{json, Value};

/// Where `examples/cornell_box.rs` writes the scene, relative to the crate root.
pub const CORNELL_BOX_PATH: &str = "scenes/cornell-box.gltf";

/// Radiance of the ceiling light.
pub const LIGHT_RADIANCE: [f32; 3] = [17.0, 12.0, 4.0];

const WHITE: [f32; 3] = [0.725, 0.71, 0.68];
const RED: [f32; 3] = [0.63, 0.065, 0.05];
const GREEN: [f32; 3] = [0.14, 0.45, 0.091];
const LIGHT_REFLECTANCE: [f32; 3] = [0.78, 0.78, 0.78];

/// Point inside the room that every wall faces.
const ROOM_CENTRE: [f32; 3] = [278.0, 274.4, 279.6];

type Quad = [[f32; 3]; 4];

const FLOOR: Quad = [[552.8, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 559.2], [549.6, 0.0, 559.2]];
const CEILING: Quad = [[556.0, 548.8, 0.0], [556.0, 548.8, 559.2], [0.0, 548.8, 559.2], [0.0, 548.8, 0.0]];
const BACK_WALL: Quad = [[549.6, 0.0, 559.2], [0.0, 0.0, 559.2], [0.0, 548.8, 559.2], [556.0, 548.8, 559.2]];
const RIGHT_WALL: Quad = [[0.0, 0.0, 559.2], [0.0, 0.0, 0.0], [0.0, 548.8, 0.0], [0.0, 548.8, 559.2]];
const LEFT_WALL: Quad = [[552.8, 0.0, 0.0], [549.6, 0.0, 559.2], [556.0, 548.8, 559.2], [556.0, 548.8, 0.0]];
/// The measured light sits in the ceiling plane; 0.1 mm lower keeps it from coinciding.
const LIGHT: Quad = [[343.0, 548.7, 227.0], [343.0, 548.7, 332.0], [213.0, 548.7, 332.0], [213.0, 548.7, 227.0]];

const SHORT_BLOCK: [Quad; 5] = [
    [[130.0, 165.0, 65.0], [82.0, 165.0, 225.0], [240.0, 165.0, 272.0], [290.0, 165.0, 114.0]],
    [[290.0, 0.0, 114.0], [290.0, 165.0, 114.0], [240.0, 165.0, 272.0], [240.0, 0.0, 272.0]],
    [[130.0, 0.0, 65.0], [130.0, 165.0, 65.0], [290.0, 165.0, 114.0], [290.0, 0.0, 114.0]],
    [[82.0, 0.0, 225.0], [82.0, 165.0, 225.0], [130.0, 165.0, 65.0], [130.0, 0.0, 65.0]],
    [[240.0, 0.0, 272.0], [240.0, 165.0, 272.0], [82.0, 165.0, 225.0], [82.0, 0.0, 225.0]],
];
const TALL_BLOCK: [Quad; 5] = [
    [[423.0, 330.0, 247.0], [265.0, 330.0, 296.0], [314.0, 330.0, 456.0], [472.0, 330.0, 406.0]],
    [[423.0, 0.0, 247.0], [423.0, 330.0, 247.0], [472.0, 330.0, 406.0], [472.0, 0.0, 406.0]],
    [[472.0, 0.0, 406.0], [472.0, 330.0, 406.0], [314.0, 330.0, 456.0], [314.0, 0.0, 456.0]],
    [[314.0, 0.0, 456.0], [314.0, 330.0, 456.0], [265.0, 330.0, 296.0], [265.0, 0.0, 296.0]],
    [[265.0, 0.0, 296.0], [265.0, 330.0, 296.0], [423.0, 330.0, 247.0], [423.0, 0.0, 247.0]],
];

/// Which way a set of quads must face: towards a point (room walls) or away from it (blocks).
enum Facing {
    Towards([f32; 3]),
    AwayFrom([f32; 3]),
}

/// A mesh of quads as positions (metres) and triangle indices, front faces
/// counter-clockwise as seen from the side they face.
fn mesh(quads: &[Quad], facing: Facing) -> (Vec<Vec3>, Vec<u16>) {
    let (mut positions, mut indices) = (Vec::new(), Vec::new());
    for quad in quads {
        let q = quad.map(Vec3::from);
        let normal = (q[1] - q[0]).cross(q[2] - q[0]);
        let centre = (q[0] + q[1] + q[2] + q[3]) * 0.25;
        let wanted = match facing {
            Facing::Towards(p) => Vec3::from(p) - centre,
            Facing::AwayFrom(p) => centre - Vec3::from(p),
        };
        let order = if normal.dot(wanted) >= 0.0 { [0, 1, 2, 3] } else { [3, 2, 1, 0] };
        let base = positions.len() as u16;
        positions.extend(order.map(|i| q[i] * 0.001));
        indices.extend([0, 1, 2, 0, 2, 3].map(|i| base + i));
    }
    (positions, indices)
}

/// An f32 as the f64 with the same shortest decimal form, so the JSON reads `0.725`
/// rather than `0.7250000238418579`.
fn short(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}

/// The Cornell box as a loaded scene (no file needed: used by `tessera bench`).
pub fn cornell_box() -> Result<super::Scene, super::SceneError> {
    super::Scene::from_bytes(std::path::Path::new("cornell-box (built in)"), cornell_box_gltf().as_bytes())
}

/// The Cornell box glTF document (buffer embedded as a data URI), pretty-printed.
pub fn cornell_box_gltf() -> String {
    let block_centre = |quads: &[Quad; 5]| {
        let sum: Vec3 = quads.iter().flatten().map(|&p| Vec3::from(p)).sum();
        (sum / 20.0).to_array()
    };
    // (name, geometry, material index)
    let parts = [
        ("floor", mesh(&[FLOOR], Facing::Towards(ROOM_CENTRE)), 0),
        ("ceiling", mesh(&[CEILING], Facing::Towards(ROOM_CENTRE)), 0),
        ("back wall", mesh(&[BACK_WALL], Facing::Towards(ROOM_CENTRE)), 0),
        ("left wall", mesh(&[LEFT_WALL], Facing::Towards(ROOM_CENTRE)), 1),
        ("right wall", mesh(&[RIGHT_WALL], Facing::Towards(ROOM_CENTRE)), 2),
        ("short block", mesh(&SHORT_BLOCK, Facing::AwayFrom(block_centre(&SHORT_BLOCK))), 0),
        ("tall block", mesh(&TALL_BLOCK, Facing::AwayFrom(block_centre(&TALL_BLOCK))), 0),
        ("light", mesh(&[LIGHT], Facing::Towards([278.0, 0.0, 279.6])), 3),
    ];

    // One buffer: all positions, then all indices.
    let positions_len: usize = parts.iter().map(|(_, (p, _), _)| p.len() * 12).sum();
    let indices_len: usize = parts.iter().map(|(_, (_, i), _)| i.len() * 2).sum();
    let mut bytes = Vec::with_capacity(positions_len + indices_len);
    let (mut accessors, mut meshes, mut nodes) = (Vec::new(), Vec::new(), Vec::new());
    let mut index_offset = 0;
    for (name, (positions, _), _) in &parts {
        let (lo, hi) =
            positions.iter().fold((Vec3::INFINITY, Vec3::NEG_INFINITY), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        accessors.push(json!({
            "bufferView": 0, "byteOffset": bytes.len(), "componentType": 5126, "count": positions.len(),
            "type": "VEC3", "min": lo.to_array().map(short), "max": hi.to_array().map(short), "name": format!("{name} positions"),
        }));
        bytes.extend(positions.iter().flat_map(|p| p.to_array()).flat_map(f32::to_le_bytes));
    }
    for (i, (name, (_, indices), material)) in parts.iter().enumerate() {
        accessors.push(json!({
            "bufferView": 1, "byteOffset": index_offset, "componentType": 5123, "count": indices.len(),
            "type": "SCALAR", "name": format!("{name} indices"),
        }));
        index_offset += indices.len() * 2;
        bytes.extend(indices.iter().flat_map(|i| i.to_le_bytes()));
        let primitive = json!({ "attributes": { "POSITION": i }, "indices": parts.len() + i, "material": material });
        meshes.push(json!({ "name": name, "primitives": [primitive] }));
        nodes.push(json!({ "name": name, "mesh": i }));
    }
    nodes.push(json!({
        "name": "camera", "camera": 0,
        "translation": [0.278, 0.273, -0.8],
        // Half a turn about +Y: the camera's -Z looks down world +Z.
        "rotation": [0.0, 1.0, 0.0, 0.0],
    }));

    let max = LIGHT_RADIANCE.iter().copied().fold(0.0, f32::max);
    let emissive_factor = LIGHT_RADIANCE.map(|c| c / max);
    let material = |name: &str, color: [f32; 3]| {
        json!({
            "name": name,
            "pbrMetallicRoughness": { "baseColorFactor": [short(color[0]), short(color[1]), short(color[2]), 1.0], "metallicFactor": 0.0, "roughnessFactor": 1.0 },
        })
    };
    let mut light = material("light", LIGHT_REFLECTANCE);
    light["emissiveFactor"] = json!(emissive_factor.map(short));
    light["extensions"] = json!({ "KHR_materials_emissive_strength": { "emissiveStrength": short(max) } });

    let yfov = 2.0 * (12.5f64 / 35.0).atan();
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let document: Value = json!({
        "asset": { "version": "2.0", "generator": "Tessera scene::cornell" },
        "extensionsUsed": ["KHR_materials_emissive_strength"],
        "scene": 0,
        "scenes": [{ "name": "Cornell box", "nodes": (0..nodes.len()).collect::<Vec<_>>() }],
        "nodes": nodes,
        "cameras": [{ "name": "Cornell camera", "type": "perspective", "perspective": { "yfov": yfov, "aspectRatio": 1.0, "znear": 0.01 } }],
        "meshes": meshes,
        "materials": [material("white", WHITE), material("red", RED), material("green", GREEN), light],
        "accessors": accessors,
        "bufferViews": [
            { "buffer": 0, "byteOffset": 0, "byteLength": positions_len, "target": 34962 },
            { "buffer": 0, "byteOffset": positions_len, "byteLength": indices_len, "target": 34963 },
        ],
        "buffers": [{ "byteLength": bytes.len(), "uri": format!("data:application/octet-stream;base64,{data}") }],
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values always serialise");
    text.push('\n');
    text
}
