//! Axis-aligned bounding boxes for the build and the statistics.

use glam::Vec3A;

use crate::scene::flat::BvhNode;

/// An axis-aligned box. [`Aabb::EMPTY`] (min = +∞, max = −∞) is the identity of `union`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aabb {
    pub min: Vec3A,
    pub max: Vec3A,
}

impl Aabb {
    pub const EMPTY: Self = Self { min: Vec3A::INFINITY, max: Vec3A::NEG_INFINITY };
    pub const POINT_AT_ORIGIN: Self = Self { min: Vec3A::ZERO, max: Vec3A::ZERO };

    pub fn from_points(points: &[glam::Vec3]) -> Self {
        points.iter().fold(Self::EMPTY, |b, &p| b.with_point(p.into()))
    }

    pub fn of_node(node: &BvhNode) -> Self {
        Self { min: node.bmin.into(), max: node.bmax.into() }
    }

    #[inline]
    pub fn union(self, other: Self) -> Self {
        Self { min: self.min.min(other.min), max: self.max.max(other.max) }
    }

    #[inline]
    pub fn with_point(self, p: Vec3A) -> Self {
        Self { min: self.min.min(p), max: self.max.max(p) }
    }

    #[inline]
    pub fn center(&self) -> Vec3A {
        (self.min + self.max) * 0.5
    }

    /// Surface area; 0 for an empty or inverted box.
    #[inline]
    pub fn area(&self) -> f32 {
        let d = (self.max - self.min).max(Vec3A::ZERO);
        2.0 * (d.x * d.y + d.y * d.z + d.z * d.x)
    }

    #[cfg(test)]
    pub fn contains(&self, other: &Self) -> bool {
        self.min.cmple(other.min).all() && other.max.cmple(self.max).all()
    }
}
