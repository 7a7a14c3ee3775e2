//! Scene-linear to display values: exposure, a view transform, and the sRGB
//! transfer function.

use glam::{Mat3, Vec3};

/// How a PNG maps scene-linear values to display values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ViewTransform {
    /// AgX (Blender 4's default): filmic highlight roll-off and desaturation.
    #[default]
    Agx,
    /// ACES filmic curve (Narkowicz fit).
    Aces,
    /// Plain sRGB with clipping.
    Standard,
}

impl ViewTransform {
    /// Maps scene-linear RGB (after exposure) to display-linear RGB in [0, 1].
    pub fn apply(self, rgb: Vec3) -> Vec3 {
        // Negative and NaN components carry no light (`max` returns the non-NaN operand).
        let rgb = rgb.max(Vec3::ZERO);
        match self {
            ViewTransform::Agx => agx(rgb),
            ViewTransform::Aces => rgb.map(aces_narkowicz),
            ViewTransform::Standard => rgb.min(Vec3::ONE),
        }
    }
}

/// Exposure, view transform and sRGB encoding of one linear RGB value, giving
/// display-encoded values in [0, 1].
pub fn display_encode(rgb: [f32; 3], exposure: f32, view: ViewTransform) -> [f32; 3] {
    let display = view.apply(Vec3::from(rgb) * exposure.exp2());
    display.to_array().map(srgb_oetf)
}

/// The sRGB opto-electronic transfer function (IEC 61966-2-1), for values in [0, 1].
pub fn srgb_oetf(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    if x <= 0.003_130_8 {
        12.92 * x
    } else {
        1.055 * x.powf(1.0 / 2.4) - 0.055
    }
}

/// Narkowicz's fit of the ACES RRT + sRGB ODT, pre-exposed so that 1.0 maps to about 0.8.
fn aces_narkowicz(x: f32) -> f32 {
    // The curve has reached 1 long before 1e6; the limit keeps x² finite.
    let x = x.min(1e6);
    ((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14)).clamp(0.0, 1.0)
}

// AgX as in Blender 4: an "inset" towards the achromatic axis (so saturated
// highlights desaturate on their way to white), a log2 encoding spanning 16.5
// stops around middle grey, the base-contrast sigmoid, and the inverse inset.

/// Rows of the AgX inset matrix (Rec.709 primaries); each row sums to ~1, so
/// greys stay grey.
const AGX_INSET: [[f32; 3]; 3] = [
    [0.842_479_06, 0.078_433_6, 0.079_223_745],
    [0.042_328_242, 0.878_468_6, 0.079_166_13],
    [0.042_375_655, 0.078_433_6, 0.879_143],
];
/// log2 of scene-linear middle grey (0.18).
const AGX_MIDDLE_GREY_EV: f32 = -2.473_931_2;
/// The encoding spans 10 stops below middle grey to 6.5 stops above.
const AGX_MIN_EV: f32 = AGX_MIDDLE_GREY_EV - 10.0;
const AGX_MAX_EV: f32 = AGX_MIDDLE_GREY_EV + 6.5;
/// Display gamma the AgX base curve encodes for; undone to get display-linear values.
const AGX_DISPLAY_GAMMA: f32 = 2.2;

fn agx_inset() -> Mat3 {
    Mat3::from_cols_array_2d(&AGX_INSET).transpose()
}

fn agx(rgb: Vec3) -> Vec3 {
    let inset = agx_inset();
    let log =
        (inset * rgb).map(|c| ((c.log2().clamp(AGX_MIN_EV, AGX_MAX_EV)) - AGX_MIN_EV) / (AGX_MAX_EV - AGX_MIN_EV));
    let encoded = log.map(agx_base_contrast);
    let outset = inset.inverse() * encoded;
    outset.clamp(Vec3::ZERO, Vec3::ONE).powf(AGX_DISPLAY_GAMMA)
}

/// Polynomial fit of AgX's base-contrast sigmoid on [0, 1] (log-encoded in,
/// display-encoded out); increasing on [0, 1], so the view is monotone.
fn agx_base_contrast(x: f32) -> f32 {
    const COEFFS: [f32; 7] = [-0.002_32, 0.119_1, 0.429_8, -6.868, 31.96, -40.14, 15.5];
    COEFFS.iter().rev().fold(0.0, |acc, &c| acc * x + c).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agx_inset_rows_preserve_grey() {
        for row in AGX_INSET {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 2e-4, "{row:?}");
        }
        let grey = agx(Vec3::splat(0.18));
        assert!((grey.x - grey.y).abs() < 1e-3 && (grey.y - grey.z).abs() < 1e-3, "{grey:?}");
    }

    #[test]
    fn agx_middle_grey_lands_mid_display() {
        // 18% grey should look like a mid grey (display-encoded around 0.45..0.55).
        let v = srgb_oetf(agx(Vec3::splat(0.18)).x);
        assert!((0.45..0.55).contains(&v), "{v}");
    }

    #[test]
    fn base_contrast_is_increasing_and_spans_zero_to_one() {
        assert_eq!(agx_base_contrast(0.0), 0.0);
        assert!(agx_base_contrast(1.0) > 0.99);
        let mut prev = agx_base_contrast(0.0);
        for i in 1..=1000 {
            let v = agx_base_contrast(i as f32 / 1000.0);
            assert!(v >= prev, "decreases at {}", i as f32 / 1000.0);
            prev = v;
        }
    }
}
