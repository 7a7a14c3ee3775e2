//! glTF animation samplers: keyframe curves evaluated at a scene time.
//!
//! One curve type serves every animated property. Values are stored flat, `width`
//! floats per key (3 for translation and scale, 4 for a rotation quaternion
//! `[x, y, z, w]`, the morph-target count for weights); CUBICSPLINE keys hold three
//! such groups each, in glTF's order: in-tangent, value, out-tangent.
//!
//! The rules are the glTF 2.0 specification's (§3.11 and Appendix C): times
//! before the first key and after the last hold the end values; LINEAR rotations
//! are spherical and take the shorter arc; CUBICSPLINE is a Hermite curve whose
//! tangents are scaled by the key interval, and its rotations are renormalised.

use glam::Quat;

/// How a curve moves between keys (glTF `sampler.interpolation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Step,
    Linear,
    CubicSpline,
}

/// Whether the values are unit quaternions (interpolated on the sphere) or plain vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Vector,
    Rotation,
}

/// Why keyframe data cannot form a curve.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum CurveError {
    #[error("has no keyframes")]
    Empty,
    #[error("key time {index} is {time}, not finite")]
    NonFiniteTime { index: usize, time: f32 },
    #[error("key times must increase: time {index} ({time}) is not after the one before it")]
    Unordered { index: usize, time: f32 },
    #[error("holds {values} output values; {keys} keys of {width} need {expected}")]
    Count { values: usize, keys: usize, width: usize, expected: usize },
    #[error("output value {index} is {value}, not finite")]
    NonFiniteValue { index: usize, value: f32 },
}

/// A keyframe curve of `width` floats.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    times: Vec<f32>,
    values: Vec<f32>,
    width: usize,
    interpolation: Interpolation,
    space: Space,
}

impl Curve {
    /// Checks the keys (finite, strictly increasing times; finite values; the
    /// count glTF requires for the interpolation) and builds the curve.
    pub fn new(
        times: Vec<f32>,
        values: Vec<f32>,
        width: usize,
        interpolation: Interpolation,
        space: Space,
    ) -> Result<Curve, CurveError> {
        if times.is_empty() || width == 0 {
            return Err(CurveError::Empty);
        }
        for (index, &time) in times.iter().enumerate() {
            if !time.is_finite() {
                return Err(CurveError::NonFiniteTime { index, time });
            }
            if index > 0 && time <= times[index - 1] {
                return Err(CurveError::Unordered { index, time });
            }
        }
        let groups = if interpolation == Interpolation::CubicSpline { 3 } else { 1 };
        let expected = times.len() * width * groups;
        if values.len() != expected {
            return Err(CurveError::Count { values: values.len(), keys: times.len(), width, expected });
        }
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(CurveError::NonFiniteValue { index, value });
        }
        Ok(Curve { times, values, width, interpolation, space })
    }

    /// Floats per evaluated value.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The time of the last key: the curve's duration from time 0.
    pub fn end(&self) -> f32 {
        *self.times.last().expect("a curve has keys")
    }

    /// The value at `time`, written into `out` (`width` floats).
    pub fn sample(&self, time: f32, out: &mut [f32]) {
        assert_eq!(out.len(), self.width, "output width");
        let last = self.times.len() - 1;
        // Index of the first key after `time`: the segment is [next - 1, next].
        let next = self.times.partition_point(|&t| t <= time);
        if next == 0 || next > last || self.interpolation == Interpolation::Step {
            out.copy_from_slice(self.value(next.saturating_sub(1).min(last)));
            return;
        }
        let k = next - 1;
        let dt = self.times[next] - self.times[k];
        let s = (time - self.times[k]) / dt;
        match (self.interpolation, self.space) {
            (Interpolation::Linear, Space::Rotation) => {
                let q = quat(self.value(k)).slerp(shorter(quat(self.value(k)), quat(self.value(next))), s);
                out.copy_from_slice(&q.to_array());
            }
            (Interpolation::Linear, Space::Vector) => {
                for ((o, a), b) in out.iter_mut().zip(self.value(k)).zip(self.value(next)) {
                    *o = a + (b - a) * s;
                }
            }
            (Interpolation::CubicSpline, _) => {
                let (s2, s3) = (s * s, s * s * s);
                let weights =
                    [2.0 * s3 - 3.0 * s2 + 1.0, dt * (s3 - 2.0 * s2 + s), -2.0 * s3 + 3.0 * s2, dt * (s3 - s2)];
                let terms = [self.value(k), self.out_tangent(k), self.value(next), self.in_tangent(next)];
                for (i, o) in out.iter_mut().enumerate() {
                    *o = weights.iter().zip(&terms).map(|(w, term)| w * term[i]).sum();
                }
                if self.space == Space::Rotation {
                    let q = quat(out).normalize();
                    out.copy_from_slice(&q.to_array());
                }
            }
            (Interpolation::Step, _) => unreachable!("handled above"),
        }
    }

    fn group(&self, key: usize, group: usize) -> &[f32] {
        let groups = if self.interpolation == Interpolation::CubicSpline { 3 } else { 1 };
        let start = (key * groups + group) * self.width;
        &self.values[start..start + self.width]
    }

    fn value(&self, key: usize) -> &[f32] {
        self.group(key, if self.interpolation == Interpolation::CubicSpline { 1 } else { 0 })
    }

    fn in_tangent(&self, key: usize) -> &[f32] {
        self.group(key, 0)
    }

    fn out_tangent(&self, key: usize) -> &[f32] {
        self.group(key, 2)
    }
}

fn quat(v: &[f32]) -> Quat {
    Quat::from_xyzw(v[0], v[1], v[2], v[3])
}

/// `b` or `-b`, whichever is nearer `a`: the same rotation, reached the short way.
fn shorter(a: Quat, b: Quat) -> Quat {
    if a.dot(b) < 0.0 {
        -b
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(curve: &Curve, time: f32) -> Vec<f32> {
        let mut out = vec![0.0; curve.width()];
        curve.sample(time, &mut out);
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    fn vector(interpolation: Interpolation, values: Vec<f32>) -> Curve {
        Curve::new(vec![1.0, 2.0, 4.0], values, 1, interpolation, Space::Vector).unwrap()
    }

    #[test]
    fn linear_hits_keys_interpolates_between_and_holds_outside() {
        let c = vector(Interpolation::Linear, vec![10.0, 20.0, 0.0]);
        for (t, want) in
            [(0.0, 10.0), (1.0, 10.0), (1.25, 12.5), (2.0, 20.0), (3.0, 10.0), (3.5, 5.0), (4.0, 0.0), (9.0, 0.0)]
        {
            assert_eq!(eval(&c, t), [want], "t = {t}");
        }
    }

    #[test]
    fn step_holds_each_key_until_the_next() {
        let c = vector(Interpolation::Step, vec![10.0, 20.0, 0.0]);
        for (t, want) in [(0.5, 10.0), (1.0, 10.0), (1.99, 10.0), (2.0, 20.0), (3.9, 20.0), (4.0, 0.0), (5.0, 0.0)] {
            assert_eq!(eval(&c, t), [want], "t = {t}");
        }
    }

    #[test]
    fn cubic_spline_matches_hand_computed_hermite_values() {
        // Keys (in-tangent, value, out-tangent): (0, 0, 1) at t=1, (−2, 1, 0) at t=3, (0, 5, 0) at t=4.
        let c = Curve::new(
            vec![1.0, 3.0, 4.0],
            vec![0.0, 0.0, 1.0, -2.0, 1.0, 0.0, 0.0, 5.0, 0.0],
            1,
            Interpolation::CubicSpline,
            Space::Vector,
        )
        .unwrap();
        // At t=2 (s=½, dt=2): ½·0 + 2·(⅛−½+½)·1 + ½·1 + 2·(⅛−¼)·(−2) = 0.25 + 0.5 + 0.5 = 1.25.
        assert!(close(&eval(&c, 2.0), &[1.25]), "{:?}", eval(&c, 2.0));
        // At t=3.5 (s=½, dt=1): ½·1 + 0 + ½·5 + 0 = 3.
        assert!(close(&eval(&c, 3.5), &[3.0]));
        for (t, want) in [(0.0, 0.0), (1.0, 0.0), (3.0, 1.0), (4.0, 5.0), (7.0, 5.0)] {
            assert!(close(&eval(&c, t), &[want]), "t = {t}: {:?}", eval(&c, t));
        }
    }

    #[test]
    fn cubic_spline_with_zero_tangents_is_smooth_and_hits_the_keys() {
        let values = vec![0.0, 2.0, 0.0, 0.0, -1.0, 0.0, 0.0, 3.0, 0.0];
        let c = Curve::new(vec![0.0, 1.0, 3.0], values, 1, Interpolation::CubicSpline, Space::Vector).unwrap();
        assert!(close(&eval(&c, 0.0), &[2.0]) && close(&eval(&c, 1.0), &[-1.0]) && close(&eval(&c, 3.0), &[3.0]));
        // Flat at every key (zero slope from both sides) and monotone between keys.
        let h = 1e-3;
        for key in [1.0f32, 3.0] {
            let left = (eval(&c, key)[0] - eval(&c, key - h)[0]) / h;
            assert!(left.abs() < 1e-2, "slope {left} left of key {key}");
        }
        let right = (eval(&c, 1.0 + h)[0] - eval(&c, 1.0)[0]) / h;
        assert!(right.abs() < 1e-2, "slope {right} right of key 1");
        let samples: Vec<f32> = (0..=100).map(|i| eval(&c, 1.0 + 2.0 * i as f32 / 100.0)[0]).collect();
        assert!(samples.windows(2).all(|w| w[1] >= w[0] - 1e-6), "not monotone between keys 1 and 3");
    }

    #[test]
    fn slerp_takes_the_short_way_for_q_and_minus_q() {
        let a = Quat::IDENTITY;
        let b = Quat::from_rotation_y(std::f32::consts::FRAC_PI_2);
        let want = Quat::from_rotation_y(std::f32::consts::FRAC_PI_4);
        for end in [b, -b] {
            let values = [a.to_array(), end.to_array()].concat();
            let c = Curve::new(vec![0.0, 1.0], values, 4, Interpolation::Linear, Space::Rotation).unwrap();
            let q = quat(&eval(&c, 0.5));
            assert!(q.angle_between(want) < 1e-5, "end {end:?}: got {q:?}, want {want:?}");
            assert!((q.length() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn cubic_spline_rotations_come_out_unit_length() {
        let (a, b) = (Quat::IDENTITY, Quat::from_rotation_x(2.0));
        let zero = [0.0; 4];
        let values = [zero, a.to_array(), zero, zero, b.to_array(), zero].concat();
        let c = Curve::new(vec![0.0, 1.0], values, 4, Interpolation::CubicSpline, Space::Rotation).unwrap();
        for t in [0.1, 0.5, 0.9] {
            assert!((quat(&eval(&c, t)).length() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_keyframes_are_refused_with_the_reason() {
        let curve = |times: Vec<f32>, values: Vec<f32>, i| Curve::new(times, values, 1, i, Space::Vector);
        assert_eq!(curve(vec![], vec![], Interpolation::Linear), Err(CurveError::Empty));
        assert_eq!(
            curve(vec![0.0, 0.0], vec![1.0, 2.0], Interpolation::Linear),
            Err(CurveError::Unordered { index: 1, time: 0.0 })
        );
        assert!(matches!(
            curve(vec![0.0, f32::NAN], vec![1.0, 2.0], Interpolation::Linear),
            Err(CurveError::NonFiniteTime { index: 1, .. })
        ));
        assert_eq!(
            curve(vec![0.0, 1.0], vec![1.0, 2.0], Interpolation::CubicSpline),
            Err(CurveError::Count { values: 2, keys: 2, width: 1, expected: 6 })
        );
        assert!(matches!(
            curve(vec![0.0], vec![f32::INFINITY], Interpolation::Step),
            Err(CurveError::NonFiniteValue { index: 0, .. })
        ));
    }
}
