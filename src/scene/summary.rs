//! `tessera info`: what a loaded scene contains.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::camera::Projection;
use super::lights::LightKind;
use super::prepare::emits;
use super::Scene;

/// Counts and lists describing a [`Scene`]; `Display` prints them for people.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneSummary {
    pub path: PathBuf,
    /// Triangles rendered, counting every instance of a mesh.
    pub triangles: usize,
    /// Triangles in the file's distinct primitive data.
    pub unique_triangles: usize,
    pub meshes: usize,
    pub primitives: usize,
    pub mesh_instances: usize,
    pub materials: usize,
    pub textures: usize,
    pub images: usize,
    /// Bytes of decoded RGBA8 texels.
    pub texel_bytes: usize,
    pub point_lights: usize,
    pub spot_lights: usize,
    pub directional_lights: usize,
    /// Rendered triangles whose material emits light.
    pub emissive_triangles: usize,
    pub cameras: Vec<CameraSummary>,
    pub animations: Vec<AnimationSummary>,
    pub extensions_used: Vec<String>,
    pub extensions_unsupported: Vec<String>,
    pub warnings: Vec<String>,
}

/// One camera: index in the glTF `cameras` array, name (or its node's), kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraSummary {
    pub index: usize,
    pub name: Option<String>,
    pub kind: &'static str,
}

/// One glTF animation: how long it runs and what it moves.
#[derive(Clone, Debug, PartialEq)]
pub struct AnimationSummary {
    pub index: usize,
    pub name: Option<String>,
    /// Seconds from time 0 to its last key.
    pub duration: f32,
    pub channels: usize,
    /// The nodes it drives (their names, else `nodes[i]`), in channel order, once each.
    pub targets: Vec<String>,
}

impl Scene {
    /// What the scene contains, for `tessera info`.
    pub fn summary(&self) -> SceneSummary {
        let primitives = || self.meshes.iter().flat_map(|m| &m.primitives);
        let mut seen = HashSet::new();
        let unique_triangles =
            primitives().filter(|p| seen.insert(Arc::as_ptr(&p.geometry))).map(|p| p.geometry.triangles.len()).sum();
        let emissive_triangles = self
            .instances
            .iter()
            .flat_map(|i| &self.meshes[i.mesh].primitives)
            .filter(|p| p.material.is_some_and(|m| emits(&self.materials[m])))
            .map(|p| p.geometry.triangles.len())
            .sum();
        let count = |kind: fn(&LightKind) -> bool| self.lights.iter().filter(|l| kind(&l.kind)).count();
        SceneSummary {
            path: self.path.clone(),
            triangles: self.instanced_triangles(),
            unique_triangles,
            meshes: self.meshes.len(),
            primitives: primitives().count(),
            mesh_instances: self.instances.len(),
            materials: self.materials.len(),
            textures: self.textures.len(),
            images: self.images.len(),
            texel_bytes: self.images.iter().map(|i| i.texels.len() * 4).sum(),
            point_lights: count(|k| matches!(k, LightKind::Point)),
            spot_lights: count(|k| matches!(k, LightKind::Spot { .. })),
            directional_lights: count(|k| matches!(k, LightKind::Directional)),
            emissive_triangles,
            cameras: self
                .cameras
                .iter()
                .map(|c| CameraSummary {
                    index: c.index,
                    name: c.name.clone().or_else(|| c.node_name.clone()),
                    kind: match c.projection {
                        Projection::Perspective { .. } => "perspective",
                        Projection::Orthographic { .. } => "orthographic",
                    },
                })
                .collect(),
            animations: self
                .animations
                .iter()
                .enumerate()
                .map(|(index, a)| {
                    let mut targets = Vec::new();
                    for node in a.channels.iter().map(|c| c.node) {
                        let name = self.nodes.nodes[node].name.clone().unwrap_or_else(|| format!("nodes[{node}]"));
                        if !targets.contains(&name) {
                            targets.push(name);
                        }
                    }
                    AnimationSummary {
                        index,
                        name: a.name.clone(),
                        duration: a.duration(),
                        channels: a.channels.len(),
                        targets,
                    }
                })
                .collect(),
            extensions_used: self.extensions_used.clone(),
            extensions_unsupported: self.extensions_unsupported.clone(),
            warnings: self.warnings.clone(),
        }
    }
}

impl fmt::Display for SceneSummary {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let list = |items: &[String]| if items.is_empty() { "none".to_string() } else { items.join(", ") };
        writeln!(f, "{}", self.path.display())?;
        writeln!(
            f,
            "  triangles   {} rendered ({} unique) in {} primitives of {} meshes, {} mesh instances",
            self.triangles, self.unique_triangles, self.primitives, self.meshes, self.mesh_instances
        )?;
        writeln!(f, "  materials   {}", self.materials)?;
        writeln!(
            f,
            "  textures    {} ({} images, {:.1} MiB of texels)",
            self.textures,
            self.images,
            self.texel_bytes as f64 / (1 << 20) as f64
        )?;
        writeln!(
            f,
            "  lights      {} point, {} spot, {} directional; {} emissive triangles",
            self.point_lights, self.spot_lights, self.directional_lights, self.emissive_triangles
        )?;
        let cameras: Vec<String> = self
            .cameras
            .iter()
            .map(|c| match &c.name {
                Some(name) => format!("{} \"{name}\" {}", c.index, c.kind),
                None => format!("{} {}", c.index, c.kind),
            })
            .collect();
        writeln!(
            f,
            "  cameras     {}",
            if cameras.is_empty() { "none (framed automatically)".into() } else { cameras.join(", ") }
        )?;
        if self.animations.is_empty() {
            writeln!(f, "  animations  none")?;
        }
        for a in &self.animations {
            // Skeletons drive dozens of nodes: name the first few.
            const SHOWN: usize = 6;
            let mut targets = a.targets[..a.targets.len().min(SHOWN)].join(", ");
            if a.targets.len() > SHOWN {
                targets += &format!(" and {} more", a.targets.len() - SHOWN);
            }
            let name = a.name.as_ref().map_or(String::new(), |n| format!(" \"{n}\""));
            writeln!(
                f,
                "  animation   {}{name}: {:.3} s, {} channels on {} nodes ({targets})",
                a.index,
                a.duration,
                a.channels,
                a.targets.len()
            )?;
        }
        write!(f, "  extensions  {}", list(&self.extensions_used))?;
        if !self.extensions_unsupported.is_empty() {
            write!(f, " (ignored: {})", self.extensions_unsupported.join(", "))?;
        }
        writeln!(f)?;
        for warning in &self.warnings {
            writeln!(f, "  warning     {warning}")?;
        }
        Ok(())
    }
}
