//! glTF animations: channels that drive node translation, rotation, scale and
//! morph-target weights along keyframe curves, and the pose of the node graph at
//! a scene time.
//!
//! Time: frame `f` at `fps` frames per second shows scene time `(f − 1) / fps`, so
//! a shot's frames 1..N start at the animation's first instant, as frame ranges
//! on farms and in Blender count from 1 ([`frame_time`]).

use std::fmt;
use std::str::FromStr;

use glam::{Mat4, Quat, Vec3};
use gltf::accessor::Dimensions;
use gltf::animation::{Interpolation as GltfInterpolation, Property};
use gltf::json::validation::Checked;
use serde::{Deserialize, Serialize};

use super::buffers::BufferData;
use super::error::SceneError;
use super::keyframes::{Curve, Interpolation, Space};
use super::nodes::{LocalTransform, NodeGraph};

/// Frames per second when none is given (`--fps`).
pub const DEFAULT_FPS: f32 = 24.0;

/// The scene time (seconds) that frame `frame` shows at `fps`: frame 1 is time 0.
pub fn frame_time(frame: u32, fps: f32) -> f32 {
    (f64::from(frame) - 1.0) as f32 / fps
}

/// What an animation channel drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Translation,
    Rotation,
    Scale,
    /// The morph-target weights of the node's mesh.
    Weights,
}

/// One animated property of one node.
#[derive(Clone, Debug)]
pub struct Channel {
    pub node: usize,
    pub target: Target,
    pub curve: Curve,
}

/// A glTF animation: channels that play together.
#[derive(Clone, Debug)]
pub struct Animation {
    pub name: Option<String>,
    pub channels: Vec<Channel>,
}

impl Animation {
    /// Seconds from time 0 to the last key of any channel.
    pub fn duration(&self) -> f32 {
        self.channels.iter().map(|c| c.curve.end()).fold(0.0, f32::max)
    }
}

/// Which animations play: `--animation NAME|INDEX|all` (default: the first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnimationSelect {
    #[default]
    First,
    All,
    Index(usize),
    Name(String),
}

impl FromStr for AnimationSelect {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match (s, s.parse::<usize>()) {
            ("all", _) => AnimationSelect::All,
            (_, Ok(i)) => AnimationSelect::Index(i),
            _ => AnimationSelect::Name(s.to_string()),
        })
    }
}

impl fmt::Display for AnimationSelect {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            AnimationSelect::First => write!(f, "the first"),
            AnimationSelect::All => write!(f, "all"),
            AnimationSelect::Index(i) => write!(f, "{i}"),
            AnimationSelect::Name(n) => write!(f, "{n:?}"),
        }
    }
}

/// The animations `select` picks from `animations`; an unknown index or name is an
/// error naming the ones there are.
pub fn select<'a>(
    animations: &'a [Animation],
    select: &AnimationSelect,
    file: &std::path::Path,
) -> Result<&'a [Animation], SceneError> {
    let found = match select {
        AnimationSelect::All => Some(animations),
        AnimationSelect::First => Some(animations.get(..1).unwrap_or_default()),
        AnimationSelect::Index(i) => animations.get(*i..*i + 1),
        AnimationSelect::Name(name) => {
            animations.iter().position(|a| a.name.as_deref() == Some(name)).map(|i| &animations[i..i + 1])
        }
    };
    found.ok_or_else(|| {
        let available: Vec<String> = animations
            .iter()
            .enumerate()
            .map(|(i, a)| a.name.as_ref().map_or(i.to_string(), |n| format!("{i} {n:?}")))
            .collect();
        let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
        SceneError::field(file, "animations", format!("no animation {select}; available: {available}"))
    })
}

/// The node graph at one time: each node's local matrix, and the morph weights
/// of the nodes whose weights are animated (`None` for the others).
#[derive(Clone, Debug, Default)]
pub struct Pose {
    pub locals: Vec<Mat4>,
    pub weights: Vec<Option<Vec<f32>>>,
}

/// The pose at `time` with `animations` playing (the rest pose for what they do
/// not drive).
pub fn pose(graph: &NodeGraph, animations: &[Animation], time: f32) -> Pose {
    let mut trs: Vec<Option<(Vec3, Quat, Vec3)>> = vec![None; graph.nodes.len()];
    let mut weights: Vec<Option<Vec<f32>>> = vec![None; graph.nodes.len()];
    let mut value = [0.0f32; 4];
    for channel in animations.iter().flat_map(|a| &a.channels) {
        if channel.target == Target::Weights {
            let out = weights[channel.node].get_or_insert_with(|| vec![0.0; channel.curve.width()]);
            channel.curve.sample(time, out);
            continue;
        }
        let LocalTransform::Trs { translation, rotation, scale } = graph.nodes[channel.node].rest else {
            continue; // refused at load: glTF animates only TRS nodes
        };
        let (t, r, s) = trs[channel.node].get_or_insert((translation, rotation, scale));
        let out = &mut value[..channel.curve.width()];
        channel.curve.sample(time, out);
        match channel.target {
            Target::Translation => *t = Vec3::from_slice(out),
            Target::Rotation => *r = Quat::from_slice(out).normalize(),
            Target::Scale => *s = Vec3::from_slice(out),
            Target::Weights => unreachable!("sampled above"),
        }
    }
    let locals = graph
        .nodes
        .iter()
        .zip(trs)
        .map(|(node, trs)| match trs {
            Some((t, r, s)) => Mat4::from_scale_rotation_translation(s, r, t),
            None => node.rest.matrix(),
        })
        .collect();
    Pose { locals, weights }
}

/// Which nodes `animations` drive directly.
pub fn driven_nodes(graph: &NodeGraph, animations: &[Animation]) -> Vec<bool> {
    let mut driven = vec![false; graph.nodes.len()];
    for channel in animations.iter().flat_map(|a| &a.channels) {
        driven[channel.node] = true;
    }
    driven
}

/// The glTF JSON without its KHR_animation_pointer channels (which have no target
/// node, so the glTF parser refuses them); `None` when the file has no such channel.
pub(crate) fn without_pointer_channels(json: &[u8]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"KHR_animation_pointer";
    json.windows(NAME.len()).position(|w| w == NAME)?;
    let mut root: serde_json::Value = serde_json::from_slice(json).ok()?;
    let mut removed = 0;
    for animation in root.get_mut("animations")?.as_array_mut()? {
        if let Some(channels) = animation.get_mut("channels").and_then(|c| c.as_array_mut()) {
            let before = channels.len();
            channels.retain(|c| c.get("target").is_none_or(|t| t.get("node").is_some()));
            removed += before - channels.len();
        }
    }
    (removed > 0).then(|| serde_json::to_vec(&root).expect("JSON values serialise"))
}

/// Reads every animation; `targets[m]` is mesh m's number of morph targets.
/// Channels Tessera cannot play (weights of a node without morph targets, nodes
/// given by a matrix, unknown paths) are left out with one warning each kind.
pub(crate) fn load_animations(
    data: &BufferData,
    graph: &NodeGraph,
    targets: &[usize],
    warnings: &mut Vec<String>,
) -> Result<Vec<Animation>, SceneError> {
    let (mut no_targets, mut matrix_nodes, mut unknown) = (0usize, 0usize, Vec::new());
    let mut animations = Vec::new();
    for animation in data.doc.animations() {
        let a = animation.index();
        let mut channels = Vec::new();
        for (c, channel) in animation.channels().enumerate() {
            let node = channel.target().node().index();
            // Read through the JSON: the accessors of the gltf crate panic on values it does not know.
            let target = match data.doc.as_json().animations[a].channels[c].target.path {
                Checked::Valid(Property::Translation) => Target::Translation,
                Checked::Valid(Property::Rotation) => Target::Rotation,
                Checked::Valid(Property::Scale) => Target::Scale,
                Checked::Valid(Property::MorphTargetWeights) => Target::Weights,
                Checked::Invalid => {
                    unknown.push(format!("animations[{a}].channels[{c}]"));
                    continue;
                }
            };
            let morph_targets = graph.nodes[node].mesh.map_or(0, |m| targets[m]);
            if target == Target::Weights && morph_targets == 0 {
                no_targets += 1;
                continue;
            }
            if target != Target::Weights && matches!(graph.nodes[node].rest, LocalTransform::Matrix(_)) {
                matrix_nodes += 1;
                continue;
            }
            let sampler = channel.sampler();
            let field = format!("animations[{a}].samplers[{}]", sampler.index());
            let times = data.floats(&sampler.input(), &[Dimensions::Scalar], &format!("{field}.input"))?;
            let (dims, width, space) = match target {
                Target::Rotation => (Dimensions::Vec4, 4, Space::Rotation),
                Target::Weights => (Dimensions::Scalar, morph_targets, Space::Vector),
                _ => (Dimensions::Vec3, 3, Space::Vector),
            };
            let values = data.floats(&sampler.output(), &[dims], &format!("{field}.output"))?;
            let interpolation = match data.doc.as_json().animations[a].samplers[sampler.index()].interpolation {
                Checked::Valid(GltfInterpolation::Step) => Interpolation::Step,
                Checked::Valid(GltfInterpolation::Linear) => Interpolation::Linear,
                Checked::Valid(GltfInterpolation::CubicSpline) => Interpolation::CubicSpline,
                Checked::Invalid => {
                    let message = "interpolation is not STEP, LINEAR or CUBICSPLINE";
                    return Err(SceneError::field(data.file, format!("{field}.interpolation"), message));
                }
            };
            let curve = Curve::new(times.to_vec(), values.to_vec(), width, interpolation, space)
                .map_err(|e| SceneError::field(data.file, format!("animations[{a}].channels[{c}]"), e.to_string()))?;
            channels.push(Channel { node, target, curve });
        }
        animations.push(Animation { name: animation.name().map(str::to_string), channels });
    }
    if no_targets > 0 {
        warnings.push(format!("{no_targets} weight channel(s) drive nodes whose mesh has no morph targets: ignored"));
    }
    if let Some(first) = unknown.first() {
        warnings.push(format!(
            "{} channel(s) with a target path glTF does not define (translation, rotation, scale, \
             weights), first {first}: ignored",
            unknown.len()
        ));
    }
    if matrix_nodes > 0 {
        warnings.push(format!(
            "{matrix_nodes} channel(s) target nodes given by a matrix, which glTF does not allow to animate: ignored"
        ));
    }
    Ok(animations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_one_is_time_zero() {
        assert_eq!(frame_time(1, 24.0), 0.0);
        assert_eq!(frame_time(25, 24.0), 1.0);
        assert_eq!(frame_time(0, 25.0), -0.04);
    }

    #[test]
    fn selections_parse() {
        assert_eq!("all".parse::<AnimationSelect>(), Ok(AnimationSelect::All));
        assert_eq!("2".parse::<AnimationSelect>(), Ok(AnimationSelect::Index(2)));
        assert_eq!("Walk".parse::<AnimationSelect>(), Ok(AnimationSelect::Name("Walk".into())));
    }
}
