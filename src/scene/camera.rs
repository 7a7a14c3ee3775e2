//! Cameras: glTF perspective and orthographic cameras placed by their nodes, the
//! `--camera` selection, and a default camera framed on the scene when there is none.

use std::fmt;
use std::path::Path;

use glam::{Mat4, Vec3};

use super::error::SceneError;
use super::flat;
use super::CameraSelect;

/// A glTF camera projection. The image aspect ratio always comes from the render size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Projection {
    /// Vertical field of view in radians.
    Perspective { yfov: f32 },
    /// Half the vertical extent of the view in world units (glTF `ymag`).
    Orthographic { ymag: f32 },
}

/// A camera placed in the scene by a node (a glTF camera used by two nodes appears twice).
#[derive(Clone, Debug)]
pub struct SceneCamera {
    /// Index in the glTF `cameras` array.
    pub index: usize,
    pub name: Option<String>,
    pub node_name: Option<String>,
    pub projection: Projection,
    /// The node's world transform; the camera looks down its local -Z with +Y up.
    pub world: Mat4,
}

impl fmt::Display for SceneCamera {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.index)?;
        if let Some(name) = &self.name {
            write!(f, " \"{name}\"")?;
        }
        if let Some(node) = &self.node_name {
            write!(f, " (node \"{node}\")")?;
        }
        match self.projection {
            Projection::Perspective { yfov } => write!(f, " perspective, yfov {:.1}°", yfov.to_degrees()),
            Projection::Orthographic { ymag } => write!(f, " orthographic, ymag {ymag}"),
        }
    }
}

/// The camera `select` asks for, else the first one; `None` when the scene has no camera.
pub(crate) fn select<'a>(
    cameras: &'a [SceneCamera],
    select: Option<&CameraSelect>,
    file: &Path,
) -> Result<Option<&'a SceneCamera>, SceneError> {
    let Some(select) = select else { return Ok(cameras.first()) };
    let found = cameras.iter().find(|c| match select {
        CameraSelect::Index(i) => c.index == *i,
        CameraSelect::Name(name) => c.name.as_deref() == Some(name) || c.node_name.as_deref() == Some(name),
    });
    found.map(Some).ok_or_else(|| SceneError::UnknownCamera {
        path: file.to_path_buf(),
        requested: match select {
            CameraSelect::Index(i) => format!("with index {i}"),
            CameraSelect::Name(name) => format!("named \"{name}\""),
        },
        available: match cameras.is_empty() {
            true => "none (the scene has no cameras; omit --camera to frame the scene automatically)".into(),
            false => cameras.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        },
    })
}

/// The flat camera for a `width × height` image.
pub(crate) fn flat_camera(camera: &SceneCamera, width: u32, height: u32) -> flat::Camera {
    let origin = camera.world.transform_point3(Vec3::ZERO);
    let forward = camera.world.transform_vector3(-Vec3::Z).normalize();
    let up_hint = camera.world.transform_vector3(Vec3::Y);
    oriented(camera.projection, origin, forward, up_hint, width, height)
}

/// A perspective camera (40° vertical field of view) looking at the centre of the
/// bounds from the front (+Z, glTF's front) and slightly above, framing them whole.
pub(crate) fn framing_camera(bounds_min: Vec3, bounds_max: Vec3, width: u32, height: u32) -> flat::Camera {
    let yfov = 40f32.to_radians();
    let centre = (bounds_min + bounds_max) * 0.5;
    let radius = ((bounds_max - bounds_min).length() * 0.5).max(1e-6);
    let aspect = width as f32 / height as f32;
    let half_angle = (yfov * 0.5).min(((yfov * 0.5).tan() * aspect).atan());
    let distance = radius / half_angle.sin();
    let direction = Vec3::new(0.0, 0.3, 1.0).normalize();
    let projection = Projection::Perspective { yfov };
    oriented(projection, centre + direction * distance, -direction, Vec3::Y, width, height)
}

fn oriented(
    projection: Projection,
    origin: Vec3,
    forward: Vec3,
    up_hint: Vec3,
    width: u32,
    height: u32,
) -> flat::Camera {
    let right = forward.cross(up_hint).try_normalize().unwrap_or_else(|| forward.any_orthonormal_vector());
    let up = right.cross(forward);
    let aspect = width as f32 / height as f32;
    let (half_x, half_y, kind) = match projection {
        Projection::Perspective { yfov } => {
            let t = (yfov * 0.5).tan();
            (t * aspect, t, flat::CAMERA_PERSPECTIVE)
        }
        Projection::Orthographic { ymag } => (ymag * aspect, ymag, flat::CAMERA_ORTHOGRAPHIC),
    };
    flat::Camera {
        origin: origin.to_array(),
        kind,
        right: (right * half_x).to_array(),
        width,
        up: (up * half_y).to_array(),
        height,
        forward: forward.to_array(),
        _pad: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_orientation_and_aspect() {
        // Rotated 180° about Y: looks down +Z, with its right towards -X.
        let camera = SceneCamera {
            index: 0,
            name: None,
            node_name: None,
            projection: Projection::Perspective { yfov: 90f32.to_radians() },
            world: Mat4::from_translation(Vec3::new(1.0, 2.0, 3.0)) * Mat4::from_rotation_y(std::f32::consts::PI),
        };
        let flat = flat_camera(&camera, 200, 100);
        assert_eq!(flat.origin, [1.0, 2.0, 3.0]);
        assert!((Vec3::from(flat.forward) - Vec3::Z).length() < 1e-6);
        assert!((Vec3::from(flat.right) - Vec3::new(-2.0, 0.0, 0.0)).length() < 1e-5);
        assert!((Vec3::from(flat.up) - Vec3::Y).length() < 1e-5);
    }

    #[test]
    fn framing_sees_the_whole_bounds() {
        let (lo, hi) = (Vec3::splat(-1.0), Vec3::splat(1.0));
        let cam = framing_camera(lo, hi, 64, 48);
        let (o, f) = (Vec3::from(cam.origin), Vec3::from(cam.forward));
        assert!(o.z > 0.0 && o.y > 0.0, "in front, above: {o}");
        // Every corner projects inside the image.
        for i in 0..8 {
            let corner = Vec3::new([-1.0, 1.0][i & 1], [-1.0, 1.0][(i >> 1) & 1], [-1.0, 1.0][i >> 2]);
            let d = corner - o;
            let r = Vec3::from(cam.right);
            let u = Vec3::from(cam.up);
            let (x, y) = (d.dot(r) / r.length_squared() / d.dot(f), d.dot(u) / u.length_squared() / d.dot(f));
            assert!(x.abs() <= 1.0 && y.abs() <= 1.0, "corner {corner} at ({x}, {y})");
        }
    }
}
