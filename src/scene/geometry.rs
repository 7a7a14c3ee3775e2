//! Mesh primitives as indexed triangles in mesh space: triangulation, attribute
//! checks, flat normals (when NORMAL is absent), generated tangents (when a normal
//! map needs them and TANGENT is absent), morph targets, and removal of zero-area
//! triangles.

use glam::{Vec2, Vec3, Vec4};
use gltf::accessor::Dimensions;
use gltf::mesh::{Mode, Semantic};

use super::buffers::BufferData;
use super::error::SceneError;

/// Triangles of one primitive with per-vertex attributes. `tangents`, `uv0` and
/// `uv1` are empty when absent, otherwise one entry per position.
#[derive(Clone, Debug, Default)]
pub struct Geometry {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub tangents: Vec<Vec4>,
    pub uv0: Vec<Vec2>,
    pub uv1: Vec<Vec2>,
    pub triangles: Vec<[u32; 3]>,
    /// Skin influences (JOINTS_n/WEIGHTS_n), one set per n present, per vertex.
    pub skin: Vec<Influences>,
    /// Morph targets, in the file's order.
    pub targets: Vec<MorphTarget>,
    /// Whether the normals are face normals made at load (the file had none), so
    /// a morphed pose makes them again from its own positions.
    pub flat: bool,
}

/// A glTF morph target: per-vertex displacements of position, normal and tangent
/// (each empty when the target does not move that attribute).
#[derive(Clone, Debug, Default)]
pub struct MorphTarget {
    pub positions: Vec<Vec3>,
    pub normals: Vec<Vec3>,
    pub tangents: Vec<Vec3>,
}

/// One JOINTS_n/WEIGHTS_n pair: four joints (indices into the skin's joints) and
/// their weights, per vertex.
#[derive(Clone, Debug, Default)]
pub struct Influences {
    pub joints: Vec<[u32; 4]>,
    pub weights: Vec<[f32; 4]>,
}

impl Geometry {
    /// The largest joint index any vertex uses with a non-zero weight.
    pub fn max_joint(&self) -> Option<u32> {
        self.skin
            .iter()
            .flat_map(|set| set.joints.iter().zip(&set.weights))
            .flat_map(|(j, w)| j.iter().zip(w).filter(|(_, &w)| w != 0.0).map(|(&j, _)| j))
            .max()
    }
}

/// Whether a primitive mode is made of triangles (strips and fans are converted).
pub(crate) fn is_triangle_mode(mode: Mode) -> bool {
    matches!(mode, Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan)
}

/// Loads a triangle primitive; `field` is its glTF path (`meshes[i].primitives[j]`).
/// `tangent_uv` asks for tangents from that UV set when the file has none.
/// Returns the geometry and how many zero-area triangles were dropped.
pub(crate) fn load_primitive(
    data: &BufferData,
    prim: &gltf::Primitive,
    field: &str,
    tangent_uv: Option<u32>,
) -> Result<(Geometry, usize), SceneError> {
    let attribute = |semantic: Semantic, name: &str, dims: Dimensions| {
        let field = format!("{field}.attributes.{name}");
        prim.get(&semantic).map(|acc| data.floats(&acc, &[dims], &field).map(|v| (v, field))).transpose()
    };
    let (positions, pos_field) = attribute(Semantic::Positions, "POSITION", Dimensions::Vec3)?
        .ok_or_else(|| SceneError::field(data.file, format!("{field}.attributes"), "POSITION is missing"))?;
    let positions: Vec<Vec3> = positions.chunks_exact(3).map(Vec3::from_slice).collect();
    let count = positions.len();
    let per_vertex = |values: Option<(std::sync::Arc<Vec<f32>>, String)>, dims: usize| {
        let Some((values, name)) = values else { return Ok(Vec::new()) };
        if values.len() != count * dims {
            let message = format!("has {} elements but POSITION ({pos_field}) has {count}", values.len() / dims);
            return Err(SceneError::field(data.file, name, message));
        }
        Ok(values.to_vec())
    };
    let normals: Vec<Vec3> = per_vertex(attribute(Semantic::Normals, "NORMAL", Dimensions::Vec3)?, 3)?
        .chunks_exact(3)
        .map(Vec3::from_slice)
        .collect();
    let tangents: Vec<Vec4> = per_vertex(attribute(Semantic::Tangents, "TANGENT", Dimensions::Vec4)?, 4)?
        .chunks_exact(4)
        .map(Vec4::from_slice)
        .collect();
    let mut uvs = [Vec::new(), Vec::new()];
    for (set, uv) in uvs.iter_mut().enumerate() {
        let name = format!("TEXCOORD_{set}");
        let values = per_vertex(attribute(Semantic::TexCoords(set as u32), &name, Dimensions::Vec2)?, 2)?;
        *uv = values.chunks_exact(2).map(Vec2::from_slice).collect();
    }
    let [uv0, uv1] = uvs;
    let mut targets = Vec::new();
    for (t, target) in prim.morph_targets().enumerate() {
        let deltas = |acc: Option<gltf::Accessor>, name: &str| -> Result<Vec<Vec3>, SceneError> {
            let Some(acc) = acc else { return Ok(Vec::new()) };
            let name = format!("{field}.targets[{t}].{name}");
            let values = per_vertex(Some((data.floats(&acc, &[Dimensions::Vec3], &name)?, name)), 3)?;
            Ok(values.chunks_exact(3).map(Vec3::from_slice).collect())
        };
        targets.push(MorphTarget {
            positions: deltas(target.positions(), "POSITION")?,
            normals: deltas(target.normals(), "NORMAL")?,
            tangents: deltas(target.tangents(), "TANGENT")?,
        });
    }
    let mut skin = Vec::new();
    for set in 0..2 {
        let (Some(joints), Some(_)) = (prim.get(&Semantic::Joints(set)), prim.get(&Semantic::Weights(set))) else {
            continue;
        };
        let joints_field = format!("{field}.attributes.JOINTS_{set}");
        let joints = data.joints(&joints, &joints_field)?;
        let weights = attribute(Semantic::Weights(set), &format!("WEIGHTS_{set}"), Dimensions::Vec4)?;
        let weights = per_vertex(weights, 4)?;
        if joints.len() != count * 4 {
            let message = format!("has {} elements but POSITION ({pos_field}) has {count}", joints.len() / 4);
            return Err(SceneError::field(data.file, joints_field, message));
        }
        skin.push(Influences {
            joints: joints.chunks_exact(4).map(|j| [j[0], j[1], j[2], j[3]]).collect(),
            weights: weights.chunks_exact(4).map(|w| [w[0], w[1], w[2], w[3]]).collect(),
        });
    }

    let indices = match prim.indices() {
        Some(acc) => {
            let index_field = format!("{field}.indices");
            let indices = data.indices(&acc, &index_field)?;
            if let Some(at) = indices.iter().position(|&i| i as usize >= count) {
                let message =
                    format!("accessors[{}] element {at} is out of range of the {count} vertices", acc.index());
                return Err(SceneError::field(data.file, index_field, message));
            }
            indices.to_vec()
        }
        None => (0..count as u32).collect(),
    };
    charge_geometry(data, field, prim, count, indices.len())?;
    let all = triangulate(prim.mode(), &indices);
    let total = all.len();
    let triangles: Vec<[u32; 3]> = all.into_iter().filter(|t| !is_degenerate(&positions, t)).collect();
    let degenerate = total - triangles.len();

    let mut geometry = Geometry { positions, normals, tangents, uv0, uv1, triangles, skin, targets, flat: false };
    if geometry.normals.is_empty() {
        geometry = flat_shaded(&geometry);
    } else {
        repair_normals(&mut geometry);
    }
    if let Some(set) = tangent_uv.filter(|_| geometry.tangents.is_empty()) {
        let uvs = if set == 1 { &geometry.uv1 } else { &geometry.uv0 };
        geometry.tangents = generate_tangents(&geometry.positions, &geometry.normals, uvs, &geometry.triangles);
    }
    Ok((geometry, degenerate))
}

/// Bytes of a vertex with every attribute (position, normal, tangent, two UV sets).
const VERTEX_BYTES: u64 = 12 + 12 + 16 + 8 + 8;

/// Charges the geometry built from `vertices` and `corners` indices before it is
/// built: triangles, the vertices kept and, without normals, the unwelded
/// flat-shaded copy (three vertices per triangle).
fn charge_geometry(
    data: &BufferData,
    field: &str,
    prim: &gltf::Primitive,
    vertices: usize,
    corners: usize,
) -> Result<(), SceneError> {
    let triangles = match prim.mode() {
        Mode::Triangles => corners / 3,
        _ => corners.saturating_sub(2),
    } as u64;
    let flat = if prim.get(&Semantic::Normals).is_none() { 3 * triangles } else { 0 };
    let bytes = triangles * 2 * 12 + (vertices as u64 + flat) * VERTEX_BYTES;
    data.charge(field, bytes, || format!("{triangles} triangles over {vertices} vertices take"))
}

/// Triangle list of a triangle-based mode (glTF's strip and fan orderings).
fn triangulate(mode: Mode, indices: &[u32]) -> Vec<[u32; 3]> {
    match mode {
        Mode::TriangleStrip => (0..indices.len().saturating_sub(2))
            .map(|i| match i % 2 {
                0 => [indices[i], indices[i + 1], indices[i + 2]],
                _ => [indices[i + 1], indices[i], indices[i + 2]],
            })
            .collect(),
        Mode::TriangleFan => {
            (1..indices.len().saturating_sub(1)).map(|i| [indices[0], indices[i], indices[i + 1]]).collect()
        }
        _ => indices.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect(),
    }
}

fn is_degenerate(positions: &[Vec3], t: &[u32; 3]) -> bool {
    let [a, b, c] = t.map(|i| positions[i as usize]);
    (b - a).cross(c - a) == Vec3::ZERO
}

/// glTF's rule for primitives without normals: flat shading, so every triangle
/// gets its own three vertices carrying the face normal.
fn flat_shaded(g: &Geometry) -> Geometry {
    let corners = || g.triangles.iter().flatten().map(|&i| i as usize);
    let pick2 = |v: &Vec<Vec2>| if v.is_empty() { Vec::new() } else { corners().map(|i| v[i]).collect() };
    Geometry {
        positions: corners().map(|i| g.positions[i]).collect(),
        normals: g
            .triangles
            .iter()
            .flat_map(|t| {
                let [a, b, c] = t.map(|i| g.positions[i as usize]);
                [(b - a).cross(c - a).normalize(); 3]
            })
            .collect(),
        tangents: if g.tangents.is_empty() { Vec::new() } else { corners().map(|i| g.tangents[i]).collect() },
        uv0: pick2(&g.uv0),
        uv1: pick2(&g.uv1),
        triangles: (0..g.triangles.len() as u32).map(|t| [3 * t, 3 * t + 1, 3 * t + 2]).collect(),
        skin: g
            .skin
            .iter()
            .map(|set| Influences {
                joints: corners().map(|i| set.joints[i]).collect(),
                weights: corners().map(|i| set.weights[i]).collect(),
            })
            .collect(),
        targets: g
            .targets
            .iter()
            .map(|t| {
                let pick = |v: &Vec<Vec3>| if v.is_empty() { Vec::new() } else { corners().map(|i| v[i]).collect() };
                MorphTarget { positions: pick(&t.positions), normals: Vec::new(), tangents: pick(&t.tangents) }
            })
            .collect(),
        flat: true,
    }
}

/// Replaces zero-length normals (found in real files) with the area-weighted
/// normal of the triangles around the vertex.
fn repair_normals(g: &mut Geometry) {
    let bad = |n: Vec3| n.length_squared() < 1e-12;
    if !g.normals.iter().any(|&n| bad(n)) {
        return;
    }
    let mut sums = vec![Vec3::ZERO; g.positions.len()];
    for t in &g.triangles {
        let [a, b, c] = t.map(|i| g.positions[i as usize]);
        let n = (b - a).cross(c - a);
        t.iter().for_each(|&i| sums[i as usize] += n);
    }
    for (n, sum) in g.normals.iter_mut().zip(sums) {
        if bad(*n) {
            *n = sum.try_normalize().unwrap_or(Vec3::Z);
        }
    }
}

/// Per-vertex tangents from UV derivatives, accumulated over the triangles around
/// each vertex and made orthogonal to the normal (Gram–Schmidt). `w` follows glTF:
/// the bitangent `cross(normal, tangent.xyz) * w` points towards decreasing v (image
/// up, since glTF's v runs down the image). Without UVs (or where they are
/// degenerate) any tangent perpendicular to the normal is used.
pub fn generate_tangents(positions: &[Vec3], normals: &[Vec3], uvs: &[Vec2], triangles: &[[u32; 3]]) -> Vec<Vec4> {
    let mut tangent = vec![Vec3::ZERO; positions.len()];
    let mut bitangent = vec![Vec3::ZERO; positions.len()];
    if !uvs.is_empty() {
        for t in triangles {
            let [p0, p1, p2] = t.map(|i| positions[i as usize]);
            let [w0, w1, w2] = t.map(|i| uvs[i as usize]);
            let (e1, e2, d1, d2) = (p1 - p0, p2 - p0, w1 - w0, w2 - w0);
            let det = d1.x * d2.y - d2.x * d1.y;
            if det == 0.0 || !det.is_finite() {
                continue;
            }
            // dP/du and dP/dv, weighted by the triangle's area in position space.
            let (dpdu, dpdv) = ((e1 * d2.y - e2 * d1.y) / det, (e2 * d1.x - e1 * d2.x) / det);
            let weight = e1.cross(e2).length();
            for &i in t {
                tangent[i as usize] += dpdu.normalize_or_zero() * weight;
                bitangent[i as usize] += dpdv.normalize_or_zero() * weight;
            }
        }
    }
    normals
        .iter()
        .zip(tangent.iter().zip(&bitangent))
        .map(|(&n, (&t, &b))| {
            let t = (t - n * n.dot(t)).try_normalize().unwrap_or_else(|| n.any_orthonormal_vector());
            let w = if n.cross(t).dot(b) > 0.0 { -1.0 } else { 1.0 };
            t.extend(w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_fans_keep_winding() {
        assert_eq!(triangulate(Mode::TriangleStrip, &[0, 1, 2, 3]), vec![[0, 1, 2], [2, 1, 3]]);
        assert_eq!(triangulate(Mode::TriangleFan, &[0, 1, 2, 3]), vec![[0, 1, 2], [0, 2, 3]]);
        assert_eq!(triangulate(Mode::Triangles, &[0, 1, 2, 3]), vec![[0, 1, 2]]);
    }

    #[test]
    fn tangents_follow_u_and_gltf_handedness() {
        // A quad in the XY plane facing +Z; u runs along +X, v runs along -Y (image down).
        let positions = [Vec3::new(0., 0., 0.), Vec3::new(1., 0., 0.), Vec3::new(1., 1., 0.), Vec3::new(0., 1., 0.)];
        let normals = [Vec3::Z; 4];
        let uvs = [Vec2::new(0., 1.), Vec2::new(1., 1.), Vec2::new(1., 0.), Vec2::new(0., 0.)];
        let tris = [[0, 1, 2], [0, 2, 3]];
        for t in generate_tangents(&positions, &normals, &uvs, &tris) {
            assert!((t.truncate() - Vec3::X).length() < 1e-6, "{t}");
            assert_eq!(t.w, 1.0);
        }
        // Mirrored in u: the tangent flips and so does the handedness.
        let mirrored = uvs.map(|uv| Vec2::new(1.0 - uv.x, uv.y));
        for t in generate_tangents(&positions, &normals, &mirrored, &tris) {
            assert!((t.truncate() + Vec3::X).length() < 1e-6, "{t}");
            assert_eq!(t.w, -1.0);
        }
    }

    #[test]
    fn flat_shading_unwelds_vertices() {
        let g = Geometry {
            positions: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::Z],
            uv0: vec![Vec2::ZERO, Vec2::X, Vec2::Y, Vec2::ONE],
            triangles: vec![[0, 1, 2], [0, 3, 1]],
            ..Default::default()
        };
        let flat = flat_shaded(&g);
        assert_eq!(flat.positions.len(), 6);
        assert_eq!(flat.normals[..3], [Vec3::Z; 3]);
        assert_eq!(flat.normals[3..], [Vec3::Y; 3]);
        assert_eq!(flat.uv0[4], Vec2::ONE);
        assert_eq!(flat.triangles[1], [3, 4, 5]);
    }
}
