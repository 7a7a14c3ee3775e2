// Light sampling for next-event estimation and the densities MIS needs, as
// src/sampling/light.rs.

struct LightSample {
    // Unit direction from the shading point towards the light.
    wi: vec3<f32>,
    // Distance to the light (infinite for directional and environment lights).
    dist: f32,
    radiance: vec3<f32>,
    // Density of this direction including the pick probability (a probability for delta lights).
    pdf: f32,
    delta: bool,
    // false where the Rust reference returns None.
    valid: bool,
}

fn no_light_sample() -> LightSample {
    return LightSample(vec3<f32>(0.0), 0.0, vec3<f32>(0.0), 0.0, false, false);
}

fn direction_to_equirect(d: vec3<f32>) -> vec2<f32> {
    return vec2<f32>(0.5 + atan2(d.x, -d.z) * (0.5 * FRAC_1_PI), acos(clamp(d.y, -1.0, 1.0)) * FRAC_1_PI);
}

fn equirect_to_direction(uv: vec2<f32>) -> vec3<f32> {
    let phi = (uv.x - 0.5) * 2.0 * PI;
    let theta = uv.y * PI;
    let sin_t = sin(theta);
    let cos_t = cos(theta);
    return vec3<f32>(sin_t * sin(phi), cos_t, -sin_t * cos(phi));
}

// Radiance of the environment seen along unit direction d.
fn env_radiance(d: vec3<f32>) -> vec3<f32> {
    let color = header.env_color;
    if (header.env_flags & ENV_MAP) == 0u {
        return color;
    }
    let uv = direction_to_equirect(d);
    let x = min(u32(max(uv.x * f32(header.env_width), 0.0)), header.env_width - 1u);
    let y = min(u32(max(uv.y * f32(header.env_height), 0.0)), header.env_height - 1u);
    return color * env_texels[y * header.env_width + x].xyz;
}

// Solid-angle density of sampling d once the environment is picked.
fn env_pdf(d: vec3<f32>) -> f32 {
    if (header.env_flags & ENV_MAP) == 0u {
        return uniform_sphere_pdf();
    }
    let uv = direction_to_equirect(d);
    let sin_theta = sin(uv.y * PI);
    if sin_theta <= 0.0 {
        return 0.0;
    }
    return env_distribution_pdf(uv) / (2.0 * PI * PI * sin_theta);
}

// Emitted radiance of emissive triangle `tri` at barycentrics (b1, b2) towards
// its front (`front`) or back side.
fn triangle_emission(tri: u32, b1: f32, b2: f32, front: bool) -> vec3<f32> {
    let m = materials[triangles[tri].material];
    if !front && (m.flags & MAT_DOUBLE_SIDED) == 0u {
        return vec3<f32>(0.0);
    }
    let uvs = triangle_uvs(tri, b1, b2);
    return m.emission * sample_slot(m.emissive_tex, uvs.uv0, uvs.uv1).xyz;
}

// Solid-angle density of sampling a point on emissive triangle `tri`.
fn triangle_light_pdf(tri: u32, dist: f32, cos_light: f32, at: Instant) -> f32 {
    let t = triangle_at(tri, at);
    if t.light == NONE || cos_light == 0.0 {
        return 0.0;
    }
    let area = 0.5 * length(cross(t.e1, t.e2));
    return lights[t.light].pick_pdf * dist * dist / (area * abs(cos_light));
}

// KHR_lights_punctual range window.
fn range_window(dist: f32, range: f32) -> f32 {
    if range <= 0.0 {
        return 1.0;
    }
    let r = dist / range;
    let r4 = r * r * r * r;
    let w = clamp(1.0 - r4, 0.0, 1.0);
    return w * w;
}

// Samples one light for shading point p: u.x picks the light, u.yz the point on it.
fn sample_light(p: vec3<f32>, u: vec4<f32>, at: Instant) -> LightSample {
    if header.num_lights == 0u {
        return no_light_sample();
    }
    let light = lights[sample_cdf(light_cdf_offset(), header.num_lights, u.x)];
    let pick = light.pick_pdf;
    let uv = u.yz;
    switch light.kind {
        case LIGHT_POINT, LIGHT_SPOT: {
            let to_light = light.position - p;
            let dist2 = dot(to_light, to_light);
            if dist2 == 0.0 {
                return no_light_sample();
            }
            let dist = sqrt(dist2);
            let wi = to_light / dist;
            var falloff = range_window(dist, light.range) / dist2;
            if light.kind == LIGHT_SPOT {
                let cd = dot(-wi, light.direction);
                let t = clamp((cd - light.cos_outer) / max(light.cos_inner - light.cos_outer, 1e-4), 0.0, 1.0);
                falloff *= t * t;
            }
            return LightSample(wi, dist, light.intensity * falloff, pick, true, true);
        }
        case LIGHT_DIRECTIONAL: {
            return LightSample(-light.direction, inf(), light.intensity, pick, true, true);
        }
        case LIGHT_TRIANGLE: {
            let t = triangle_at(light.index, at);
            let b = square_to_uniform_triangle(uv);
            let q = t.v0 + t.e1 * b.x + t.e2 * b.y;
            let to_light = q - p;
            let dist2 = dot(to_light, to_light);
            if dist2 == 0.0 {
                return no_light_sample();
            }
            let dist = sqrt(dist2);
            let wi = to_light / dist;
            let n = cross(t.e1, t.e2);
            let cos_light = -dot(wi, normalize_or(n, vec3<f32>(0.0)));
            let radiance = triangle_emission(light.index, b.x, b.y, cos_light > 0.0);
            let pdf = triangle_light_pdf(light.index, dist, cos_light, at);
            if !(pdf > 0.0) {
                return no_light_sample();
            }
            return LightSample(wi, dist, radiance, pdf, false, true);
        }
        case LIGHT_ENVIRONMENT: {
            var wi: vec3<f32>;
            var pdf: f32;
            if (header.env_flags & ENV_MAP) != 0u {
                let s = sample_env_distribution(uv);
                let sin_theta = sin(s.uv.y * PI);
                if sin_theta <= 0.0 {
                    return no_light_sample();
                }
                wi = equirect_to_direction(s.uv);
                pdf = s.pdf / (2.0 * PI * PI * sin_theta);
            } else {
                wi = square_to_uniform_sphere(uv);
                pdf = uniform_sphere_pdf();
            }
            return LightSample(wi, inf(), env_radiance(wi), pdf * pick, false, true);
        }
        default: {
            return no_light_sample();
        }
    }
}
