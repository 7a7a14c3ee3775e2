//! `Scene::load`: a glTF 2.0 file (`.gltf` or `.glb`) into a [`Scene`].
//!
//! Policy: non-triangle primitives (points, lines) are skipped with one warning,
//! and so are zero-area triangles; the load fails only when nothing renderable is
//! left. Unsupported extensions, even required ones, are warnings. The node graph
//! and its animations and skins are kept for posing frames (`animation`); morph
//! targets are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gltf::json::validation::{Checked, Validate};
use gltf::mesh::Mode;
use gltf::Document;

use super::animation::{load_animations, without_pointer_channels};
use super::buffers::{load_buffers, BufferData};
use super::error::SceneError;
use super::geometry::{is_triangle_mode, load_primitive, Geometry};
use super::image::decode_images;
use super::limits::{bytes_of, Budget, Confinement, LoadOptions};
use super::material::load_materials;
use super::nodes::NodeGraph;
use super::uri::{io_reason, read_regular_file, UriResolver};
use super::values::check_values;
use super::{DefaultLight, LitBy, Mesh, MeshInstance, Primitive, Scene};

/// Extensions whose effect Tessera renders.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "KHR_lights_punctual",
    "KHR_materials_anisotropy",
    "KHR_materials_iridescence",
    "KHR_materials_clearcoat",
    "KHR_materials_emissive_strength",
    "KHR_materials_ior",
    "KHR_materials_sheen",
    "KHR_materials_specular",
    "KHR_materials_transmission",
    "KHR_materials_unlit",
    "KHR_materials_volume",
    "KHR_texture_transform",
    "EXT_mesh_gpu_instancing",
];

/// Loads a `.gltf`/`.glb` file under `opts` (see [`super::LoadOptions`]).
pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<Scene, SceneError> {
    let shown = shown_path(path, &opts.root);
    let budget = Budget::new(opts.memory_limit);
    let bytes = read_regular_file(path, &budget).map_err(|message| {
        let message = message.strip_prefix("cannot read: ").map_or(message.clone(), str::to_string);
        SceneError::Read { path: shown.clone(), message }
    })?;
    load_checked(path, &shown, &bytes, opts, budget)
}

/// Loads a glTF/GLB file's contents; `path` names it in messages and anchors relative URIs.
pub(crate) fn load_bytes(path: &Path, bytes: &[u8], opts: &LoadOptions) -> Result<Scene, SceneError> {
    let shown = shown_path(path, &opts.root);
    let budget = Budget::new(opts.memory_limit);
    budget
        .charge(bytes.len() as u64, || "the file holds".into())
        .map_err(|message| SceneError::Read { path: shown.clone(), message })?;
    load_checked(path, &shown, bytes, opts, budget)
}

/// How messages name the scene file: relative to a confinement folder (so
/// they carry no host paths), else as given.
fn shown_path(path: &Path, root: &Confinement) -> PathBuf {
    match root {
        Confinement::Folder(root) => match path.strip_prefix(root) {
            Ok(relative) => relative.to_path_buf(),
            Err(_) => path.file_name().map_or_else(|| PathBuf::from("scene"), PathBuf::from),
        },
        _ => path.to_path_buf(),
    }
}

/// Bytes the parsed form of one JSON object, array or element may take at
/// most: the largest glTF struct (checked by a test) or a `serde_json` value
/// with its map entry, for extensions Tessera does not parse.
const JSON_ITEM_BYTES: u64 = 1024;

/// What parsing `json` may allocate: its text (strings such as data URIs are
/// kept once) plus [`JSON_ITEM_BYTES`] per object, array and element, counted
/// by their `{`, `[` and `,` (an over-estimate where these occur in strings).
fn parsed_json_bytes(json: &[u8]) -> u64 {
    let items = json.iter().filter(|&&b| matches!(b, b'{' | b'[' | b',')).count() as u64;
    (json.len() as u64).saturating_add(items.saturating_mul(JSON_ITEM_BYTES))
}

fn load_checked(
    path: &Path,
    file: &Path,
    bytes: &[u8],
    opts: &LoadOptions,
    budget: Budget,
) -> Result<Scene, SceneError> {
    let uris = UriResolver::new(path, &opts.root).map_err(|e| SceneError::Read {
        path: file.into(),
        message: format!("cannot open its folder: {}", io_reason(&e)),
    })?;
    if let Confinement::Folder(_) = opts.root {
        let inside = path.canonicalize().is_ok_and(|p| uris.contains(&p));
        if !inside && path.exists() {
            return Err(SceneError::Read {
                path: file.into(),
                message: "the scene file lies outside the job's folder".into(),
            });
        }
    }
    let (json, blob) = split_glb(file, bytes)?;
    budget
        .charge(parsed_json_bytes(json), || "the glTF JSON parses to up to".into())
        .map_err(|message| SceneError::Format { path: file.into(), message })?;
    if let Some(bin) = &blob {
        budget
            .charge(bin.len() as u64, || "the GLB binary chunk holds".into())
            .map_err(|message| SceneError::Format { path: file.into(), message })?;
    }
    let mut warnings = Vec::new();
    // Their extension's own warning (unsupported, ignored) is the one the user sees.
    let pointers = without_pointer_channels(json);
    let json = pointers.as_deref().unwrap_or(json);
    let root: gltf::json::Root = gltf::json::deserialize::from_slice(json)
        .map_err(|e| SceneError::Format { path: file.into(), message: format!("invalid glTF JSON: {e}") })?;
    validate(&root, file)?;
    let doc = Document::from_json_without_validation(root);

    let (extensions_used, extensions_unsupported) = extensions(&doc, &mut warnings);
    warnings.extend(check_values(&doc, file)?);
    let expansion = check_expansion(&doc, file, opts.max_instances)?;
    budget
        .charge(bytes_of(expansion.instances, size_of::<MeshInstance>()), || {
            format!("{} mesh instances take", expansion.instances)
        })
        .map_err(|m| SceneError::field(file, expansion.field.clone(), m))?;
    let buffers = load_buffers(&doc, blob, file, &uris, &budget)?;
    let data = BufferData::new(&doc, &buffers, file, &uris, &budget);
    let mut materials = load_materials(&doc);
    check_texture_transforms(&materials.materials, file)?;
    warnings.extend(std::mem::take(&mut materials.warnings));
    let (images, image_of) = decode_images(&data, &materials.images)?;
    for texture in &mut materials.textures {
        texture.image = image_of[texture.image];
    }
    let meshes = load_meshes(&data, &materials.normal_uv, &mut warnings)?;
    let graph = NodeGraph::load(&data, root_nodes(&doc).0, &meshes.meshes)?;
    let nodes = graph.place(&graph.rest_locals(), file)?;
    let targets: Vec<usize> = meshes.meshes.iter().map(|m| m.weights.len()).collect();
    let animations = load_animations(&data, &graph, &targets, &mut warnings)?;

    let mut scene = Scene {
        path: file.to_path_buf(),
        meshes: meshes.meshes,
        instances: nodes.instances,
        materials: materials.materials,
        textures: materials.textures,
        images,
        cameras: nodes.cameras,
        lights: nodes.lights,
        nodes: graph,
        animations,
        static_geometry: Default::default(),
        extensions_used,
        extensions_unsupported,
        warnings,
        memory_bytes: 0,
        default_light: DefaultLight { white: true, lit_by: LitBy::Nothing },
    };
    if scene.instanced_triangles() == 0 {
        let mut reasons = Vec::new();
        let any_left = scene.meshes.iter().any(|m| !m.primitives.is_empty());
        match meshes.degenerate {
            0 => {}
            n if !any_left => reasons.push(format!("all {n} triangles are degenerate (zero area)")),
            n => reasons.push(format!("{n} degenerate (zero-area) triangles were skipped")),
        }
        if !meshes.skipped.is_empty() {
            reasons.push(format!("{} are not triangles", meshes.skipped.join(", ")));
        }
        if reasons.is_empty() {
            reasons.push("the scene has no mesh nodes with triangles".into());
        }
        return Err(SceneError::NoTriangles { path: file.into(), reason: reasons.join("; ") });
    }
    charge_prepared(&scene, &budget, &expansion.field)?;
    scene.memory_bytes = budget.used();
    scene.default_light = super::default_light::choose(&scene);
    for warning in &scene.warnings {
        tracing::warn!("{}: {warning}", file.display());
    }
    Ok(scene)
}

/// Bytes `prepare` allocates per rendered triangle: corners, gathered and
/// BVH-ordered triangles and vertex indices, BVH nodes (at most two per
/// triangle) and the builder's per-triangle state.
const PREPARED_BYTES_PER_TRIANGLE: usize = 36 + 2 * 48 + 2 * 16 + 2 * 32 + 40;
/// Bytes `prepare` allocates per vertex of every instance (the shading vertex
/// and its world position).
const PREPARED_BYTES_PER_VERTEX: usize = 48 + 12;

/// Charges what `prepare` will allocate for the flat scene, and refuses scenes
/// the flat layout's 32-bit indices cannot address.
fn charge_prepared(scene: &Scene, budget: &Budget, field: &str) -> Result<(), SceneError> {
    let primitives = || scene.instances.iter().flat_map(|i| &scene.meshes[i.mesh].primitives);
    let triangles: u64 = primitives().map(|p| p.geometry.triangles.len() as u64).sum();
    let vertices: u64 = primitives().map(|p| p.geometry.positions.len() as u64).sum();
    if triangles > u64::from(u32::MAX) || vertices > u64::from(u32::MAX) {
        let message = format!(
            "the instances hold {triangles} triangles and {vertices} vertices in all, more than the 2^32 the flat layout can address"
        );
        return Err(SceneError::field(&scene.path, field, message));
    }
    let texels: u64 = scene.images.iter().map(|i| i.texels.len() as u64).sum();
    let bytes = bytes_of(triangles, PREPARED_BYTES_PER_TRIANGLE)
        .saturating_add(bytes_of(vertices, PREPARED_BYTES_PER_VERTEX))
        .saturating_add(bytes_of(texels, 4));
    budget
        .charge(bytes, || {
            format!("{triangles} triangles and {vertices} vertices in all instances, prepared for rendering, take")
        })
        .map_err(|m| SceneError::field(&scene.path, field, m))
}

/// What walking the node graph would produce.
struct Expansion {
    instances: u64,
    /// The field that holds the root nodes (`scenes[i].nodes`, or `nodes`).
    field: String,
}

/// The root nodes of the default scene (else the first; else every node that is
/// no other node's child), and the field that lists them.
fn root_nodes(doc: &Document) -> (Vec<usize>, String) {
    match doc.default_scene().or_else(|| doc.scenes().next()) {
        Some(scene) => (scene.nodes().map(|n| n.index()).collect(), format!("scenes[{}].nodes", scene.index())),
        None => {
            let mut child = vec![false; doc.nodes().len()];
            doc.nodes().flat_map(|n| n.children()).for_each(|c| child[c.index()] = true);
            ((0..child.len()).filter(|&i| !child[i]).collect(), "nodes".into())
        }
    }
}

/// Counts the node visits and mesh instances the walk from the roots would make,
/// each node once, bottom up: a graph whose shared children multiply into
/// billions is measured (and refused past `max`) without being expanded.
/// Fails on a cycle, naming a node on it.
fn check_expansion(doc: &Document, file: &Path, max: u64) -> Result<Expansion, SceneError> {
    let (roots, field) = root_nodes(doc);
    let nodes: Vec<gltf::Node> = doc.nodes().collect();
    let own = |n: &gltf::Node| -> u64 {
        match (n.mesh(), gpu_instance_count(doc, n)) {
            (None, _) => 0,
            (Some(_), Some(count)) => count,
            (Some(_), None) => 1,
        }
    };
    // Per node: (visits, instances) of its subtree; state 1 = on the stack.
    let children: Vec<Vec<usize>> = nodes.iter().map(|n| n.children().map(|c| c.index()).collect()).collect();
    let mut counts: Vec<Option<(u64, u64)>> = vec![None; nodes.len()];
    let mut state = vec![0u8; nodes.len()];
    for &root in &roots {
        let mut stack = vec![(root, 0usize)];
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            if counts[n].is_some() {
                stack.pop();
                continue;
            }
            state[n] = 1;
            if let Some(&child) = children[n].get(*next) {
                *next += 1;
                if state[child] == 1 {
                    return Err(SceneError::field(
                        file,
                        format!("nodes[{child}]"),
                        "the node hierarchy contains a cycle",
                    ));
                }
                if counts[child].is_none() {
                    stack.push((child, 0));
                }
                continue;
            }
            let (mut visits, mut instances) = (1u64, own(&nodes[n]));
            for &c in &children[n] {
                let (v, i) = counts[c].expect("children are counted first");
                visits = visits.saturating_add(v);
                instances = instances.saturating_add(i);
            }
            counts[n] = Some((visits, instances));
            state[n] = 2;
            stack.pop();
        }
    }
    let (visits, instances) = roots.iter().fold((0u64, 0u64), |(v, i), &r| {
        let (rv, ri) = counts[r].expect("roots are counted");
        (v.saturating_add(rv), i.saturating_add(ri))
    });
    if visits > max || instances > max {
        let figure = |n: u64| if n == u64::MAX { "more than 18446744073709551615".to_string() } else { n.to_string() };
        let message = format!(
            "the node graph expands to {} node visits and {} mesh instances, over the limit of {max}",
            figure(visits),
            figure(instances)
        );
        return Err(SceneError::field(file, field, message));
    }
    Ok(Expansion { instances, field })
}

/// The instance count EXT_mesh_gpu_instancing gives a node, from its accessors' counts.
fn gpu_instance_count(doc: &Document, node: &gltf::Node) -> Option<u64> {
    let attributes = node.extension_value("EXT_mesh_gpu_instancing")?.get("attributes")?.as_object()?;
    let counts = attributes.values().filter_map(|v| v.as_u64()).filter_map(|i| doc.accessors().nth(i as usize));
    counts.map(|a| a.count() as u64).max()
}

/// The JSON and the `BIN` chunk of a GLB container; plain JSON is returned as is.
fn split_glb<'a>(path: &Path, bytes: &'a [u8]) -> Result<(&'a [u8], Option<Vec<u8>>), SceneError> {
    if !bytes.starts_with(b"glTF") {
        return Ok((bytes, None));
    }
    let error = |message: String| SceneError::Format { path: path.into(), message };
    let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    if bytes.len() < 12 {
        return Err(error(format!("truncated GLB: {} bytes, shorter than the 12-byte header", bytes.len())));
    }
    if word(4) != 2 {
        return Err(error(format!("GLB version {} is not supported (expected 2)", word(4))));
    }
    let length = word(8);
    if length > bytes.len() || length < 12 {
        return Err(error(format!("truncated GLB: the header declares {length} bytes, the file has {}", bytes.len())));
    }
    let (mut json, mut bin, mut at) = (None, None, 12);
    while at < length {
        if length - at < 8 {
            return Err(error(format!("truncated GLB: chunk header at byte {at} is cut off")));
        }
        let (size, kind) = (word(at), &bytes[at + 4..at + 8]);
        let data = bytes.get(at + 8..at + 8 + size).filter(|_| at + 8 + size <= length).ok_or_else(|| {
            error(format!("truncated GLB: chunk at byte {at} declares {size} bytes, only {} remain", length - at - 8))
        })?;
        match kind {
            b"JSON" if json.is_none() => json = Some(data),
            b"BIN\0" if bin.is_none() => bin = Some(data.to_vec()),
            _ if json.is_none() => return Err(error("the first GLB chunk is not JSON".into())),
            _ => {} // Unknown chunks are skipped, as the spec asks.
        }
        at += 8 + size;
    }
    Ok((json.ok_or_else(|| error("GLB without a JSON chunk".into()))?, bin))
}

/// Runs the gltf crate's validation (after checks that keep it and the crate's
/// accessors from panicking), relaxed where Tessera does better than fail:
/// required extensions it does not know (warned about instead) and POSITION
/// accessors without `min`/`max` (bounds are computed from the data).
fn validate(root: &gltf::json::Root, path: &Path) -> Result<(), SceneError> {
    // The validator indexes POSITION accessors without a bounds check.
    for (m, mesh) in root.meshes.iter().enumerate() {
        for (p, prim) in mesh.primitives.iter().enumerate() {
            let position = prim.attributes.get(&Checked::Valid(gltf::json::mesh::Semantic::Positions));
            if let Some(i) = position.filter(|i| i.value() >= root.accessors.len()) {
                return Err(SceneError::field(
                    path,
                    format!("meshes[{m}].primitives[{p}].attributes.POSITION"),
                    format!("accessor index {} is out of range ({} accessors)", i.value(), root.accessors.len()),
                ));
            }
        }
    }
    // The gltf crate unwraps the projection named by `type` without checking it exists.
    for (i, camera) in root.cameras.iter().enumerate() {
        use gltf::json::camera::Type;
        let missing = match camera.type_ {
            Checked::Valid(Type::Perspective) => camera.perspective.is_none().then_some("perspective"),
            Checked::Valid(Type::Orthographic) => camera.orthographic.is_none().then_some("orthographic"),
            Checked::Invalid => None,
        };
        if let Some(kind) = missing {
            return Err(SceneError::field(
                path,
                format!("cameras[{i}].{kind}"),
                format!("missing for a camera of type {kind}"),
            ));
        }
    }
    // The validator checks a channel's sampler but not its target node, which the crate unwraps.
    for (a, animation) in root.animations.iter().enumerate() {
        for (c, channel) in animation.channels.iter().enumerate() {
            let node = channel.target.node.value();
            if node >= root.nodes.len() {
                return Err(SceneError::field(
                    path,
                    format!("animations[{a}].channels[{c}].target.node"),
                    format!("node index {node} is out of range ({} nodes)", root.nodes.len()),
                ));
            }
        }
    }
    let mut errors = Vec::new();
    root.validate(root, gltf::json::Path::new, &mut |p, e| errors.push((p(), e)));
    errors.retain(|(p, _)| {
        let p = p.as_str();
        !(p.starts_with("extensionsRequired") || p.ends_with("[\"POSITION\"].min") || p.ends_with("[\"POSITION\"].max"))
    });
    match errors.split_first() {
        None => Ok(()),
        Some(((field, error), rest)) => {
            let more = match rest.len() {
                0 => String::new(),
                n => format!(" (and {n} more problem(s), first: {})", rest[0].0),
            };
            Err(SceneError::field(path, field.as_str(), format!("{}{more}", error.to_string().to_lowercase())))
        }
    }
}

/// Extensions the file uses (used ∪ required), and those Tessera ignores (one warning each).
fn extensions(doc: &Document, warnings: &mut Vec<String>) -> (Vec<String>, Vec<String>) {
    let required: Vec<&str> = doc.extensions_required().collect();
    let mut used: Vec<String> = doc.extensions_used().map(str::to_string).collect();
    for r in &required {
        if !used.iter().any(|u| u == r) {
            used.push(r.to_string());
        }
    }
    let unsupported: Vec<String> =
        used.iter().filter(|e| !SUPPORTED_EXTENSIONS.contains(&e.as_str())).cloned().collect();
    for e in &unsupported {
        let note = if required.contains(&e.as_str()) { " (the file lists it as required)" } else { "" };
        warnings.push(format!("extension {e} is not supported and is ignored{note}"));
    }
    (used, unsupported)
}

struct Meshes {
    meshes: Vec<Mesh>,
    /// Zero-area triangles dropped (counted once per distinct primitive data).
    degenerate: usize,
    /// Non-triangle primitives skipped, as `meshes[i].primitives[j] (MODE)`.
    skipped: Vec<String>,
}

/// Primitives with the same accessors, mode and tangent needs share one geometry.
#[derive(Clone, PartialEq, Eq, Hash)]
struct GeometryKey {
    attributes: Vec<(String, usize)>,
    targets: Vec<[Option<usize>; 3]>,
    indices: Option<usize>,
    mode: u32,
    tangent_uv: Option<u32>,
}

fn load_meshes(data: &BufferData, normal_uv: &[Option<u32>], warnings: &mut Vec<String>) -> Result<Meshes, SceneError> {
    let mut cache: HashMap<GeometryKey, Arc<Geometry>> = HashMap::new();
    let (mut degenerate, mut skipped) = (0, Vec::new());
    let mut meshes = Vec::new();
    for mesh in data.doc.meshes() {
        let weights = default_weights(data, &mesh)?;
        let mut primitives = Vec::new();
        for prim in mesh.primitives() {
            let field = format!("meshes[{}].primitives[{}]", mesh.index(), prim.index());
            if !is_triangle_mode(prim.mode()) {
                skipped.push(format!("{field} ({})", mode_name(prim.mode())));
                continue;
            }
            let material = prim.material().index();
            let tangent_uv = material.and_then(|m| normal_uv[m]);
            let key = GeometryKey {
                attributes: prim.attributes().map(|(s, a)| (s.to_string(), a.index())).collect(),
                targets: prim
                    .morph_targets()
                    .map(|t| [t.positions(), t.normals(), t.tangents()].map(|a| a.map(|a| a.index())))
                    .collect(),
                indices: prim.indices().map(|a| a.index()),
                mode: prim.mode().as_gl_enum(),
                tangent_uv,
            };
            let geometry = match cache.get(&key) {
                Some(g) => g.clone(),
                None => {
                    let (g, dropped) = load_primitive(data, &prim, &field, tangent_uv)?;
                    degenerate += dropped;
                    let g = Arc::new(g);
                    cache.insert(key, g.clone());
                    g
                }
            };
            if !geometry.triangles.is_empty() {
                primitives.push(Primitive { geometry, material });
            }
        }
        meshes.push(Mesh { name: mesh.name().map(str::to_string), primitives, weights });
    }
    if degenerate > 0 {
        warnings.push(format!("skipped {degenerate} degenerate (zero-area) triangle(s)"));
    }
    if !skipped.is_empty() {
        let listed: Vec<&str> = skipped.iter().take(3).map(String::as_str).collect();
        let more = if skipped.len() > 3 { format!(" and {} more", skipped.len() - 3) } else { String::new() };
        warnings.push(format!(
            "skipped {} non-triangle primitive(s) (points and lines are not rendered): {}{more}",
            skipped.len(),
            listed.join(", ")
        ));
    }
    Ok(Meshes { meshes, degenerate, skipped })
}

/// A mesh's default morph weights (`mesh.weights`, else zeros), after checking
/// that its primitives agree on the number of targets and the weights match it.
fn default_weights(data: &BufferData, mesh: &gltf::Mesh) -> Result<Vec<f32>, SceneError> {
    let field = format!("meshes[{}]", mesh.index());
    let counts: Vec<usize> = mesh.primitives().map(|p| p.morph_targets().count()).collect();
    let count = counts.first().copied().unwrap_or(0);
    if let Some(p) = counts.iter().position(|&c| c != count) {
        let message =
            format!("has {} morph targets but primitives[0] has {count}: glTF requires the same number", counts[p]);
        return Err(SceneError::field(data.file, format!("{field}.primitives[{p}].targets"), message));
    }
    match mesh.weights() {
        None => Ok(vec![0.0; count]),
        Some(w) => check_weights(data.file, &format!("{field}.weights"), w, count),
    }
}

/// Morph weights as given, checked: one per target, each finite.
pub(crate) fn check_weights(file: &Path, field: &str, weights: &[f32], targets: usize) -> Result<Vec<f32>, SceneError> {
    if weights.len() != targets {
        let message = format!("has {} weights for {targets} morph targets", weights.len());
        return Err(SceneError::field(file, field, message));
    }
    if let Some(w) = weights.iter().find(|w| !w.is_finite()) {
        return Err(SceneError::field(file, field, format!("weight {w} is not finite")));
    }
    Ok(weights.to_vec())
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Points => "POINTS",
        Mode::Lines => "LINES",
        Mode::LineLoop => "LINE_LOOP",
        Mode::LineStrip => "LINE_STRIP",
        Mode::Triangles => "TRIANGLES",
        Mode::TriangleStrip => "TRIANGLE_STRIP",
        Mode::TriangleFan => "TRIANGLE_FAN",
    }
}

/// Texture transforms (KHR_texture_transform) must be finite, or lookups are meaningless.
fn check_texture_transforms(materials: &[crate::scene::flat::Material], file: &Path) -> Result<(), SceneError> {
    for (i, m) in materials.iter().enumerate() {
        if let Some((name, _)) =
            m.texture_slots().iter().find(|(_, s)| s.row_u.iter().chain(&s.row_v).any(|v| !v.is_finite()))
        {
            let field = format!("materials[{i}].{name}.extensions.KHR_texture_transform");
            return Err(SceneError::field(file, field, "offset, rotation or scale is not finite"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glb(json: &[u8], bin: Option<&[u8]>) -> Vec<u8> {
        let mut chunks = Vec::new();
        for (data, kind) in [(Some(json), b"JSON"), (bin, b"BIN\0")] {
            if let Some(data) = data {
                chunks.extend((data.len() as u32).to_le_bytes());
                chunks.extend(kind);
                chunks.extend(data);
            }
        }
        let mut out = b"glTF".to_vec();
        out.extend(2u32.to_le_bytes());
        out.extend((12 + chunks.len() as u32).to_le_bytes());
        out.extend(chunks);
        out
    }

    #[test]
    fn json_items_are_charged_at_least_their_parsed_size() {
        use gltf::json;
        let sizes = [
            size_of::<json::Accessor>(),
            size_of::<json::Animation>(),
            size_of::<json::Buffer>(),
            size_of::<json::buffer::View>(),
            size_of::<json::Camera>(),
            size_of::<json::Image>(),
            size_of::<json::Material>(),
            size_of::<json::Mesh>(),
            size_of::<json::mesh::Primitive>(),
            size_of::<json::Node>(),
            size_of::<json::Scene>(),
            size_of::<json::Skin>(),
            size_of::<json::Texture>(),
            size_of::<json::texture::Sampler>(),
            // An unparsed extension value: the value and its map entry with key.
            size_of::<serde_json::Value>() * 2 + size_of::<String>() + 64,
        ];
        let largest = sizes.into_iter().max().unwrap() as u64;
        assert!(largest <= JSON_ITEM_BYTES, "{largest}");
        // A long data URI is charged once, not per byte.
        let uri = format!("{{\"uri\":\"data:,{}\"}}", "A".repeat(1000));
        assert_eq!(parsed_json_bytes(uri.as_bytes()), uri.len() as u64 + 2 * JSON_ITEM_BYTES);
    }

    #[test]
    fn glb_container_is_split_and_checked() {
        let file = Path::new("x.glb");
        let bytes = glb(b"{}  ", Some(&[1, 2, 3, 4]));
        let (json, bin) = split_glb(file, &bytes).unwrap();
        assert_eq!(json, b"{}  ");
        assert_eq!(bin.unwrap(), vec![1, 2, 3, 4]);
        for cut in [4, 11, 20, bytes.len() - 1] {
            let err = split_glb(file, &bytes[..cut]);
            let message = err.map(|_| ()).unwrap_err().to_string();
            assert!(message.starts_with("x.glb: not a valid glTF file: truncated GLB"), "{cut}: {message}");
        }
        let mut bad_chunk = bytes.clone();
        bad_chunk[12] = 200; // The JSON chunk claims more bytes than the file holds.
        let message = split_glb(file, &bad_chunk).map(|_| ()).unwrap_err().to_string();
        assert!(message.contains("chunk at byte 12 declares 200 bytes"), "{message}");
        let plain = br#"{"asset":{"version":"2.0"}}"#;
        assert_eq!(split_glb(file, plain).unwrap().0, plain);
    }
}
