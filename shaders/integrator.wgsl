// The path tracer, as src/render/integrator.rs step by step: unidirectional
// path tracing with next-event estimation (MIS, power heuristic), Russian
// roulette and stochastic alpha blending.

struct PathResult {
    radiance: vec3<f32>,
    albedo: vec3<f32>,
    normal: vec3<f32>,
    // Distance to the first hit along the unit camera ray; 0 on a miss.
    depth: f32,
    hit: bool,
    // Rays traced (closest-hit and shadow).
    rays: u32,
}

// Dimension group for pass-through `layer` of an alpha-blended surface at `bounce`.
fn group_transparency(bounce: u32, layer: u32) -> u32 {
    return 0x80000000u | (bounce << 8u) | layer;
}

// The camera ray through pixel (px, py) offset by `jitter` in [0,1)².
fn camera_ray(cam: Camera, px: u32, py: u32, jitter: vec2<f32>) -> Ray {
    let x = (f32(px) + jitter.x) / f32(cam.width) * 2.0 - 1.0;
    let y = 1.0 - (f32(py) + jitter.y) / f32(cam.height) * 2.0;
    if cam.kind == CAMERA_ORTHOGRAPHIC {
        return Ray(cam.origin + cam.right * x + cam.up * y, cam.forward);
    }
    return Ray(cam.origin, normalize(cam.forward + cam.right * x + cam.up * y));
}

fn is_black(v: vec3<f32>) -> bool {
    return all(v <= vec3<f32>(0.0));
}

// Traces sample `sample` of pixel (px, py).
fn trace_path(seed: u32, px: u32, py: u32, sample: u32, max_depth: u32) -> PathResult {
    // The whole path travels at one instant of the shutter (motion blur).
    let at = sample_instant(seed, px, py, sample);
    let cam = sample4(seed, px, py, sample, GROUP_CAMERA);
    var ray = camera_ray(camera_at(at), px, py, cam.yz);
    var result = PathResult(vec3<f32>(0.0), vec3<f32>(0.0), vec3<f32>(0.0), 0.0, false, 0u);
    var beta = vec3<f32>(1.0);
    var radiance = vec3<f32>(0.0);
    // Density of the BSDF sample that produced `ray` (for MIS when it hits an emitter).
    var prev_bsdf_pdf = 0.0;
    var bounce = 0u;
    var transparent_hits = 0u;
    // Absorption of the volume the ray travels in (zero: clear).
    var medium = vec3<f32>(0.0);

    loop {
        result.rays += 1u;
        let hit = intersect(ray, inf(), at);
        beta *= transmittance(medium, select(inf(), hit.t, hit.found));
        if !hit.found {
            let env = env_radiance(ray.dir);
            if header.env_light != NONE && !is_black(env) {
                var weight = 1.0;
                if bounce != 0u {
                    let light_pdf = lights[header.env_light].pick_pdf * env_pdf(ray.dir);
                    weight = power_heuristic(prev_bsdf_pdf, light_pdf);
                }
                radiance += beta * env * weight;
            }
            break;
        }
        let surf = surface_hit(hit, ray.dir, at);
        let material = materials[surf.material];

        // Alpha blending: pass through with probability 1 - alpha, without a bounce.
        if (material.flags & MAT_ALPHA_BLEND) != 0u && transparent_hits < MAX_TRANSPARENT_HITS {
            let alpha = material_alpha(material, surf.uv0, surf.uv1);
            if sample4(seed, px, py, sample, group_transparency(bounce, transparent_hits)).x >= alpha {
                transparent_hits += 1u;
                let side = select(surf.geo_normal, -surf.geo_normal, surf.front_face);
                ray.origin = offset_ray_origin(surf.position, side);
                continue;
            }
        }
        transparent_hits = 0u;

        let sp = shade(surf);
        if bounce == 0u {
            result.hit = true;
            result.albedo = sp.albedo;
            result.normal = sp.frame.n;
            result.depth = hit.t;
        }

        // Emission reached by the camera or by BSDF sampling, weighted against NEE.
        if !is_black(sp.emission) {
            let tri_light = triangles[hit.tri].light;
            var weight = 1.0;
            if bounce != 0u && tri_light != NONE {
                let cos_light = dot(ray.dir, surf.geo_normal);
                weight = power_heuristic(prev_bsdf_pdf, triangle_light_pdf(hit.tri, hit.t, cos_light, at));
            }
            radiance += beta * sp.emission * weight;
        }

        // An unlit surface shows its colour and reflects nothing.
        if bounce == max_depth || (material.flags & MAT_UNLIT) != 0u {
            break;
        }

        let wo = frame_to_local(sp.frame, -ray.dir);
        let view = bsdf_view(sp.bsdf, wo);

        // Next-event estimation.
        let ls = sample_light(surf.position, sample4(seed, px, py, sample, group_light(bounce)), at);
        if ls.valid && !is_black(ls.radiance) {
            let wi = frame_to_local(sp.frame, ls.wi);
            let value = bsdf_view_eval_pdf(view, wi);
            let f = value.eval;
            if !is_black(f) {
                let side = select(-sp.geo_normal, sp.geo_normal, dot(ls.wi, sp.geo_normal) >= 0.0);
                let shadow = Ray(offset_ray_origin(surf.position, side), ls.wi);
                var t_max = inf();
                if is_finite(ls.dist) {
                    t_max = ls.dist * (1.0 - 1e-4);
                }
                result.rays += 1u;
                if !occluded(shadow, t_max, at) {
                    var weight = 1.0;
                    if !ls.delta {
                        weight = power_heuristic(ls.pdf, value.pdf);
                    }
                    let absorbed = transmittance(medium_after(material, wo.z, wi.z, medium), ls.dist);
                    radiance += beta * f * absorbed * ls.radiance * (weight / ls.pdf);
                }
            }
        }

        // Continue the path by sampling the BSDF.
        let u = sample4(seed, px, py, sample, group_bsdf(bounce));
        let bs = bsdf_view_sample(view, u.x, u.yz);
        if !bs.valid {
            break;
        }
        beta *= bs.weight;
        prev_bsdf_pdf = bs.pdf;
        medium = medium_after(material, wo.z, bs.wi.z, medium);
        let wi_world = frame_to_world(sp.frame, bs.wi);
        let side = select(-sp.geo_normal, sp.geo_normal, dot(wi_world, sp.geo_normal) >= 0.0);
        ray = Ray(offset_ray_origin(surf.position, side), wi_world);

        // Russian roulette: continue with probability max(beta), reweighting survivors.
        if bounce >= RR_START_BOUNCE {
            let survive = min(max_element(beta), 1.0);
            if u.w >= survive {
                break;
            }
            beta /= survive;
        }
        if is_black(beta) || !is_finite3(beta) {
            break;
        }
        bounce += 1u;
    }

    if is_finite3(radiance) {
        result.radiance = radiance;
    }
    return result;
}

// Adds one path's result to a pixel's sums.
fn accumulate(sums: ptr<function, PixelSums>, r: PathResult) {
    (*sums).radiance += r.radiance;
    (*sums).radiance_sq += r.radiance * r.radiance;
    (*sums).albedo += r.albedo;
    (*sums).normal += r.normal;
    (*sums).depth += r.depth;
    (*sums).alpha += select(0.0, 1.0, r.hit);
    (*sums).count += 1u;
}
