// KHR_materials_iridescence: the Fresnel reflectance of a thin dielectric film
// over a base, its interference integrated over the visible spectrum in closed
// form, as src/sampling/thin_film.rs (read its header).

const FILM_FADE_THICKNESS: f32 = 30.0;

fn film_gauss(amplitude: f32, mean: f32, variance: f32, shift: f32, phase: f32) -> f32 {
    return amplitude * sqrt(2.0 * PI * variance) * cos(mean * phase + shift) * exp(-phase * phase * variance);
}

// The spectral sensitivity's Fourier transform at optical path difference opd
// (nm) with phase shift `shift` per channel, in linear Rec. 709.
fn film_sensitivity(opd: f32, shift: vec3<f32>) -> vec3<f32> {
    let phase = 2.0 * PI * opd * 1e-9;
    let x = film_gauss(5.4856e-13, 1.6810e6, 4.3278e9, shift.x, phase)
        + film_gauss(9.7470e-14, 2.2399e6, 4.5282e9, shift.x, phase);
    let y = film_gauss(4.4201e-13, 1.7953e6, 9.3046e9, shift.y, phase);
    let z = film_gauss(5.2481e-13, 2.2084e6, 6.6121e9, shift.z, phase);
    let xyz = vec3<f32>(x, y, z) / 1.0685e-7;
    var rgb = vec3<f32>(3.2404542, -0.969266, 0.0556434) * xyz.x;
    rgb = rgb + vec3<f32>(-1.5371385, 1.8760108, -0.2040259) * xyz.y;
    rgb = rgb + vec3<f32>(-0.4985314, 0.0415560, 1.0572252) * xyz.z;
    return rgb;
}

// The film-to-base interface of one channel: its Schlick reflectance at cos2
// and its phase shift.
fn film_base_interface(f0: f32, film: f32, cos2: f32) -> vec2<f32> {
    let root = sqrt(clamp(f0, 0.0, 0.9999));
    let ior = (1.0 + root) / (1.0 - root);
    var r = (ior - film) / (ior + film);
    r = r * r;
    return vec2<f32>(r + (1.0 - r) * schlick_weight(cos2), select(0.0, PI, ior < film));
}

fn iridescent_fresnel(cos_theta: f32, film_ior: f32, thickness: f32, base_f0: vec3<f32>) -> vec3<f32> {
    let fade = clamp(thickness / FILM_FADE_THICKNESS, 0.0, 1.0);
    let film = 1.0 + (film_ior - 1.0) * fade * fade * (3.0 - 2.0 * fade);
    let cos1 = clamp(cos_theta, 0.0, 1.0);
    let sin2_film = (1.0 - cos1 * cos1) / (film * film);
    if sin2_film >= 1.0 {
        return vec3<f32>(1.0);
    }
    let cos2 = sqrt(1.0 - sin2_film);
    let f0 = dielectric_f0(film);
    let r12 = f0 + (1.0 - f0) * schlick_weight(cos1);
    let t121 = 1.0 - r12;
    let phi21 = select(PI, 0.0, film < 1.0);
    let bx = film_base_interface(base_f0.x, film, cos2);
    let by = film_base_interface(base_f0.y, film, cos2);
    let bz = film_base_interface(base_f0.z, film, cos2);
    let r23 = vec3<f32>(bx.x, by.x, bz.x);
    let phi = vec3<f32>(phi21) + vec3<f32>(bx.y, by.y, bz.y);
    let opd = 2.0 * film * thickness * cos2;
    let r123 = clamp(r12 * r23, vec3<f32>(1e-5), vec3<f32>(0.9999));
    let root = sqrt(r123);
    let rs = t121 * t121 * r23 / (vec3<f32>(1.0) - r123);
    var intensity = vec3<f32>(r12) + rs;
    var c = rs - vec3<f32>(t121);
    for (var m = 1; m <= 2; m++) {
        c = c * root;
        intensity = intensity + c * 2.0 * film_sensitivity(f32(m) * opd, f32(m) * phi);
    }
    return clamp(intensity, vec3<f32>(0.0), vec3<f32>(1.0));
}
