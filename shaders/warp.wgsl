// Sample warps, the shading frame and the MIS power heuristic, as
// src/sampling/warp.rs (`Frame::from_normal` is `frame_from_normal`, and so on).

// An orthonormal, right-handed shading frame: t × b = n; local z is the normal.
struct Frame {
    t: vec3<f32>,
    b: vec3<f32>,
    n: vec3<f32>,
}

// Frame around a unit normal (Duff et al., JCGT 2017).
fn frame_from_normal(n: vec3<f32>) -> Frame {
    let sgn = select(1.0, -1.0, sign_bit(n.z));
    let a = -1.0 / (sgn + n.z);
    let b = n.x * n.y * a;
    return Frame(
        vec3<f32>(1.0 + sgn * n.x * n.x * a, sgn * b, -sgn * n.x),
        vec3<f32>(b, sgn + n.y * n.y * a, -n.y),
        n,
    );
}

// Frame around a unit normal whose tangent follows `t` (Gram–Schmidt); a zero,
// non-finite or parallel tangent falls back to frame_from_normal.
fn frame_from_normal_tangent(n: vec3<f32>, t_in: vec3<f32>) -> Frame {
    let t = t_in - n * dot(n, t_in);
    let len2 = dot(t, t);
    if !(len2 > 1e-12 && is_finite(len2)) {
        return frame_from_normal(n);
    }
    let tn = t / sqrt(len2);
    return Frame(tn, cross(n, tn), n);
}

fn frame_to_local(f: Frame, v: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(dot(v, f.t), dot(v, f.b), dot(v, f.n));
}

fn frame_to_world(f: Frame, v: vec3<f32>) -> vec3<f32> {
    return f.t * v.x + f.b * v.y + f.n * v.z;
}

// Concentric map of the unit square onto the unit disk (Shirley & Chiu 1997).
fn square_to_concentric_disk(u: vec2<f32>) -> vec2<f32> {
    let p = 2.0 * u - vec2<f32>(1.0);
    if p.x == 0.0 && p.y == 0.0 {
        return vec2<f32>(0.0);
    }
    var r: f32;
    var phi: f32;
    if abs(p.x) > abs(p.y) {
        r = p.x;
        phi = FRAC_PI_4 * (p.y / p.x);
    } else {
        r = p.y;
        phi = FRAC_PI_2 - FRAC_PI_4 * (p.x / p.y);
    }
    return r * vec2<f32>(cos(phi), sin(phi));
}

fn square_to_cosine_hemisphere(u: vec2<f32>) -> vec3<f32> {
    let d = square_to_concentric_disk(u);
    let z = sqrt(max(1.0 - dot(d, d), 0.0));
    return vec3<f32>(d.x, d.y, z);
}

fn cosine_hemisphere_pdf(cos_theta: f32) -> f32 {
    return max(cos_theta, 0.0) * FRAC_1_PI;
}

fn square_to_uniform_sphere(u: vec2<f32>) -> vec3<f32> {
    let z = 1.0 - 2.0 * u.x;
    let r = sqrt(max(1.0 - z * z, 0.0));
    let phi = 2.0 * PI * u.y;
    return vec3<f32>(r * cos(phi), r * sin(phi), z);
}

fn uniform_sphere_pdf() -> f32 {
    return 0.25 * FRAC_1_PI;
}

// Barycentrics (b1, b2) of a uniform point on a triangle.
fn square_to_uniform_triangle(u: vec2<f32>) -> vec2<f32> {
    let s = sqrt(u.x);
    return vec2<f32>(s * (1.0 - u.y), s * u.y);
}

// Veach's power heuristic (β = 2): zero when pdf_a is zero or NaN, one when
// pdf_a is infinite and pdf_b is not, never NaN.
fn power_heuristic(pdf_a: f32, pdf_b: f32) -> f32 {
    let a = select(0.0, pdf_a, pdf_a > 0.0);
    let b = select(0.0, pdf_b, pdf_b > 0.0);
    if a == 0.0 {
        return 0.0;
    }
    if is_inf(a) {
        return select(1.0, 0.5, is_inf(b));
    }
    if b > a {
        let r = a / b;
        return r * r / (1.0 + r * r);
    }
    let r = b / a;
    return 1.0 / (1.0 + r * r);
}
