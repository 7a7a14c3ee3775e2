//! The glTF node hierarchy, kept after loading so that a frame can be placed from
//! animated local transforms: [`NodeGraph::load`] reads it once, and
//! [`NodeGraph::place`] walks it from the roots with given local transforms,
//! producing the mesh instances, cameras and lights in world space.

use std::path::Path;
use std::sync::Arc;

use glam::{Mat4, Quat, Vec3};

use super::buffers::BufferData;
use super::camera::{Projection, SceneCamera};
use super::error::SceneError;
use super::lights::SceneLight;
use super::{Mesh, MeshInstance};

/// A node's own transform, as authored: a matrix or translation/rotation/scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LocalTransform {
    Matrix(Mat4),
    Trs { translation: Vec3, rotation: Quat, scale: Vec3 },
}

impl LocalTransform {
    pub fn matrix(&self) -> Mat4 {
        match *self {
            LocalTransform::Matrix(m) => m,
            LocalTransform::Trs { translation, rotation, scale } => {
                Mat4::from_scale_rotation_translation(scale, rotation, translation)
            }
        }
    }
}

/// One glTF node: what it places and where its children hang.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: Option<String>,
    pub rest: LocalTransform,
    pub children: Vec<usize>,
    pub mesh: Option<usize>,
    /// The skin that deforms its mesh (index into [`NodeGraph::skins`]); a skinned
    /// mesh ignores its node's transform (glTF: its joints place it).
    pub skin: Option<usize>,
    /// EXT_mesh_gpu_instancing transforms, relative to the node.
    pub gpu_instances: Option<Arc<Vec<Mat4>>>,
    /// The node's camera, placed at the origin (`world` is the identity).
    pub camera: Option<SceneCamera>,
    /// The node's light, placed at the origin.
    pub light: Option<SceneLight>,
    /// Morph weights for its mesh (`node.weights`), overriding the mesh's own.
    pub weights: Option<Vec<f32>>,
}

/// The nodes of a scene and the roots that are rendered.
#[derive(Clone, Debug, Default)]
pub struct NodeGraph {
    pub nodes: Vec<Node>,
    pub roots: Vec<usize>,
    pub skins: Vec<Skin>,
    /// Each mesh's bounds in mesh space (`None` when it has no triangles left).
    pub mesh_bounds: Vec<Option<(Vec3, Vec3)>>,
}

/// A glTF skin: the joint nodes that deform a mesh and their inverse bind matrices.
#[derive(Clone, Debug)]
pub struct Skin {
    pub joints: Vec<usize>,
    pub inverse_bind: Vec<Mat4>,
}

impl Skin {
    /// Each joint's matrix (world × inverse bind), given every node's world transform.
    pub fn joint_matrices(&self, worlds: &[Mat4]) -> Vec<Mat4> {
        self.joints.iter().zip(&self.inverse_bind).map(|(&j, ibm)| worlds[j] * *ibm).collect()
    }
}

/// What one walk of the graph places in the world.
#[derive(Debug, Default)]
pub struct Placed {
    pub instances: Vec<MeshInstance>,
    pub cameras: Vec<SceneCamera>,
    pub lights: Vec<SceneLight>,
    /// Every node's world transform (the identity for nodes the walk does not reach).
    pub worlds: Vec<Mat4>,
}

impl NodeGraph {
    /// Reads every node; `roots` are the nodes the default scene renders. Node values
    /// were checked before (`values::check_values`), the expansion too.
    pub(crate) fn load(data: &BufferData, roots: Vec<usize>, meshes: &[Mesh]) -> Result<NodeGraph, SceneError> {
        let skins = load_skins(data)?;
        let nodes = data
            .doc
            .nodes()
            .map(|node| {
                let field = format!("nodes[{}]", node.index());
                let rest = match node.transform() {
                    gltf::scene::Transform::Matrix { matrix } => {
                        LocalTransform::Matrix(Mat4::from_cols_array_2d(&matrix))
                    }
                    gltf::scene::Transform::Decomposed { translation, rotation, scale } => LocalTransform::Trs {
                        translation: Vec3::from(translation),
                        rotation: Quat::from_array(rotation),
                        scale: Vec3::from(scale),
                    },
                };
                let targets = node.mesh().map_or(0, |m| meshes[m.index()].weights.len());
                let weights = node
                    .weights()
                    .map(|w| super::gltf_load::check_weights(data.file, &format!("{field}.weights"), w, targets))
                    .transpose()?;
                Ok(Node {
                    name: node.name().map(str::to_string),
                    weights,
                    rest,
                    children: node.children().map(|c| c.index()).collect(),
                    mesh: node.mesh().map(|m| m.index()),
                    skin: node.skin().map(|s| s.index()),
                    gpu_instances: gpu_instances(data, &node, &field)?.map(Arc::new),
                    camera: node.camera().map(|c| scene_camera(&c, &node)),
                    light: node.light().map(|l| SceneLight::from_gltf(&l, &Mat4::IDENTITY)),
                })
            })
            .collect::<Result<Vec<Node>, SceneError>>()?;
        for (i, node) in nodes.iter().enumerate() {
            let (Some(mesh), Some(skin)) = (node.mesh, node.skin) else { continue };
            let used = meshes[mesh].primitives.iter().filter_map(|p| p.geometry.max_joint()).max();
            if let Some(joint) = used.filter(|&j| j as usize >= skins[skin].joints.len()) {
                let message = format!(
                    "meshes[{mesh}] uses joint {joint}, but skins[{skin}] has {} joints",
                    skins[skin].joints.len()
                );
                return Err(SceneError::field(data.file, format!("nodes[{i}].skin"), message));
            }
        }
        Ok(NodeGraph { nodes, roots, skins, mesh_bounds: meshes.iter().map(mesh_bounds).collect() })
    }

    /// Every node's authored local matrix.
    pub fn rest_locals(&self) -> Vec<Mat4> {
        self.nodes.iter().map(|n| n.rest.matrix()).collect()
    }

    /// Walks the graph from the roots with `locals[i]` as node i's local matrix.
    /// Instances, cameras and lights come in depth-first order, children in order.
    pub fn place(&self, locals: &[Mat4], file: &Path) -> Result<Placed, SceneError> {
        let mut out = Placed { worlds: vec![Mat4::IDENTITY; self.nodes.len()], ..Placed::default() };
        let mut stack: Vec<(usize, Mat4, usize)> = self.roots.iter().rev().map(|&n| (n, Mat4::IDENTITY, 0)).collect();
        while let Some((index, parent, depth)) = stack.pop() {
            let field = || format!("nodes[{index}]");
            if depth > self.nodes.len() {
                return Err(SceneError::field(file, field(), "the node hierarchy contains a cycle"));
            }
            let node = &self.nodes[index];
            if !locals[index].is_finite() {
                return Err(SceneError::field(file, field(), "transform has non-finite values"));
            }
            let world = parent * locals[index];
            if !world.is_finite() {
                return Err(SceneError::field(file, field(), "the world transform overflows (non-finite values)"));
            }
            out.worlds[index] = world;
            if let Some(mesh) = node.mesh {
                let base = if node.skin.is_some() { Mat4::IDENTITY } else { world };
                let placements = match &node.gpu_instances {
                    Some(transforms) => transforms.iter().map(|&t| base * t).collect(),
                    None => vec![base],
                };
                for world in placements {
                    if !placed_finite(&world, self.mesh_bounds[mesh]) {
                        let message = format!("places meshes[{mesh}] at non-finite world coordinates");
                        return Err(SceneError::field(file, field(), message));
                    }
                    out.instances.push(MeshInstance { mesh, node: index, world });
                }
            }
            if let Some(camera) = &node.camera {
                out.cameras.push(SceneCamera { world, ..camera.clone() });
            }
            if let Some(light) = &node.light {
                out.lights.push(light.placed(&world));
            }
            stack.extend(node.children.iter().rev().map(|&c| (c, world, depth + 1)));
        }
        Ok(out)
    }

    /// For each node, whether it or an ancestor is in `moving`: the nodes whose world
    /// transform can change when `moving` nodes are animated.
    pub fn moved_by(&self, moving: &[bool]) -> Vec<bool> {
        let mut moved = moving.to_vec();
        let mut stack: Vec<(usize, bool, usize)> = self.roots.iter().map(|&n| (n, false, 0)).collect();
        while let Some((index, parent_moved, depth)) = stack.pop() {
            if depth > self.nodes.len() {
                break; // a cycle: refused by `place`
            }
            moved[index] |= parent_moved;
            let here = moved[index];
            stack.extend(self.nodes[index].children.iter().map(|&c| (c, here, depth + 1)));
        }
        moved
    }
}

/// A mesh's bounds in mesh space (`None` when it has no triangles left), grown
/// by its morph targets' displacements at weights from 0 to 1.
fn mesh_bounds(mesh: &Mesh) -> Option<(Vec3, Vec3)> {
    let bounds = |points: &[Vec3]| {
        points
            .iter()
            .fold(None, |b: Option<(Vec3, Vec3)>, &p| Some(b.map_or((p, p), |(lo, hi)| (lo.min(p), hi.max(p)))))
    };
    let join = |a: Option<(Vec3, Vec3)>, b: Option<(Vec3, Vec3)>| match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    };
    let geometries = || mesh.primitives.iter().map(|p| &p.geometry);
    let (lo, hi) = geometries().map(|g| bounds(&g.positions)).fold(None, join)?;
    let targets = mesh.weights.len();
    let (grow_lo, grow_hi) = (0..targets)
        .filter_map(|t| geometries().map(|g| g.targets.get(t).and_then(|t| bounds(&t.positions))).fold(None, join))
        .fold((Vec3::ZERO, Vec3::ZERO), |(l, h), (dl, dh)| (l + dl.min(Vec3::ZERO), h + dh.max(Vec3::ZERO)));
    Some((lo + grow_lo, hi + grow_hi))
}

/// Every skin, its inverse bind matrices checked against its joints.
fn load_skins(data: &BufferData) -> Result<Vec<Skin>, SceneError> {
    data.doc
        .skins()
        .map(|skin| {
            let joints: Vec<usize> = skin.joints().map(|j| j.index()).collect();
            let inverse_bind = match skin.inverse_bind_matrices() {
                None => vec![Mat4::IDENTITY; joints.len()],
                Some(acc) => {
                    let field = format!("skins[{}].inverseBindMatrices", skin.index());
                    let values = data.floats(&acc, &[gltf::accessor::Dimensions::Mat4], &field)?;
                    if values.len() != 16 * joints.len() {
                        let message = format!("holds {} matrices for {} joints", values.len() / 16, joints.len());
                        return Err(SceneError::field(data.file, field, message));
                    }
                    values.chunks_exact(16).map(Mat4::from_cols_slice).collect()
                }
            };
            Ok(Skin { joints, inverse_bind })
        })
        .collect()
}

/// Whether `world` maps the box `bounds` to finite coordinates. An affine map's
/// terms are largest at the box's corners, so finite corners mean every point
/// inside maps to finite coordinates.
fn placed_finite(world: &Mat4, bounds: Option<(Vec3, Vec3)>) -> bool {
    let Some((lo, hi)) = bounds else { return world.is_finite() };
    world.is_finite()
        && (0..8).all(|i| {
            let corner = Vec3::new([lo.x, hi.x][i & 1], [lo.y, hi.y][(i >> 1) & 1], [lo.z, hi.z][i >> 2]);
            world.transform_point3(corner).is_finite()
        })
}

fn scene_camera(camera: &gltf::Camera, node: &gltf::Node) -> SceneCamera {
    // The parameters were checked in `values::check_values`.
    let projection = match camera.projection() {
        gltf::camera::Projection::Perspective(p) => Projection::Perspective { yfov: p.yfov() },
        gltf::camera::Projection::Orthographic(o) => Projection::Orthographic { ymag: o.ymag().abs() },
    };
    SceneCamera {
        index: camera.index(),
        name: camera.name().map(str::to_string),
        node_name: node.name().map(str::to_string),
        projection,
        world: Mat4::IDENTITY,
    }
}

/// EXT_mesh_gpu_instancing: the per-instance TRS transforms of a node, if it has any.
fn gpu_instances(data: &BufferData, node: &gltf::Node, field: &str) -> Result<Option<Vec<Mat4>>, SceneError> {
    use gltf::accessor::Dimensions;
    let Some(ext) = node.extension_value("EXT_mesh_gpu_instancing") else { return Ok(None) };
    let field = format!("{field}.extensions.EXT_mesh_gpu_instancing.attributes");
    let attributes = ext.get("attributes").and_then(|a| a.as_object());
    let attributes = attributes.ok_or_else(|| SceneError::field(data.file, &field, "missing"))?;
    let read = |name: &str, dims: Dimensions| -> Result<Option<Arc<Vec<f32>>>, SceneError> {
        let Some(value) = attributes.get(name) else { return Ok(None) };
        let field = format!("{field}.{name}");
        let index = value.as_u64().ok_or_else(|| SceneError::field(data.file, &field, "not an accessor index"))?;
        let accessor = data.accessor(index as usize, &field)?;
        data.floats(&accessor, &[dims], &field).map(Some)
    };
    let translation = read("TRANSLATION", Dimensions::Vec3)?;
    let rotation = read("ROTATION", Dimensions::Vec4)?;
    let scale = read("SCALE", Dimensions::Vec3)?;
    let counts = [
        translation.as_ref().map(|t| t.len() / 3),
        rotation.as_ref().map(|r| r.len() / 4),
        scale.as_ref().map(|s| s.len() / 3),
    ];
    let count = counts.iter().flatten().copied().max().unwrap_or(0);
    if counts.iter().flatten().any(|&c| c != count) {
        return Err(SceneError::field(data.file, field, format!("attribute counts differ: {counts:?}")));
    }
    let transforms = (0..count)
        .map(|i| {
            let t = translation.as_ref().map_or(Vec3::ZERO, |t| Vec3::from_slice(&t[3 * i..]));
            let r = rotation.as_ref().map_or(Quat::IDENTITY, |r| Quat::from_slice(&r[4 * i..]));
            let s = scale.as_ref().map_or(Vec3::ONE, |s| Vec3::from_slice(&s[3 * i..]));
            let r = if r.length_squared() > 0.0 { r.normalize() } else { Quat::IDENTITY };
            Mat4::from_scale_rotation_translation(s, r, t)
        })
        .collect();
    Ok(Some(transforms))
}
