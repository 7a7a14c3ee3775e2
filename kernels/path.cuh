// The path tracer's per-path logic (src/render/integrator.rs: trace_path),
// split into the stages the wavefront kernels run over queues:
//   path_begin    camera ray of one sample (ray generation),
//   intersect     closest hit (extension),
//   path_shade    miss/emission/AOVs, a shadow ray for next-event estimation,
//                 BSDF sampling and Russian roulette (shading),
//   occluded      the shadow ray; its contribution is added if unoccluded.
// trace_path runs the stages in order for one path (the megakernel and the host
// tests); radiance is added in the same order as the CPU reference either way.
#pragma once

#include "light.cuh"
#include "rng.cuh"
#include "surface.cuh"

static constexpr unsigned RR_START_BOUNCE = 3u;
static constexpr unsigned MAX_TRANSPARENT_HITS = 16u;

struct PathState {
    Ray ray;
    float3 beta;
    float3 radiance;
    float3 medium;        // absorption of the volume `ray` travels in (zero: clear)
    float prev_bsdf_pdf;  // density of the BSDF sample that produced `ray`
    unsigned bounce;
    unsigned transparent_hits;
    unsigned rays;        // closest-hit and shadow rays traced
    unsigned px, py, sample;
    // AOVs of the first hit.
    float3 albedo;
    float3 normal;
    float depth;
    bool hit;
};

// A next-event-estimation shadow ray and what it adds when nothing blocks it.
struct ShadowRay {
    Ray ray;
    float t_max;
    float3 contribution;
};

struct PathResult {
    float3 radiance;
    float3 albedo;
    float3 normal;
    float depth;
    bool hit;
    unsigned rays;
};

TS_HD unsigned group_transparency(unsigned bounce, unsigned layer) { return 0x80000000u | (bounce << 8u) | layer; }

TS_HD bool is_black(float3 v) { return v.x <= 0.0f && v.y <= 0.0f && v.z <= 0.0f; }

TS_HD Ray camera_ray(const Camera& cam, unsigned px, unsigned py, float2 jitter) {
    float x = ((float)px + jitter.x) / (float)cam.width * 2.0f - 1.0f;
    float y = 1.0f - ((float)py + jitter.y) / (float)cam.height * 2.0f;
    Ray r;
    if (cam.kind == CAMERA_ORTHOGRAPHIC) {
        r.origin = cam.origin + cam.right * x + cam.up * y;
        r.dir = cam.forward;
    } else {
        r.origin = cam.origin;
        r.dir = normalize(cam.forward + cam.right * x + cam.up * y);
    }
    return r;
}

// The whole path travels at one instant of the shutter, `at` (motion blur).
TS_HD void path_begin(const SceneView& s, unsigned seed, unsigned px, unsigned py, unsigned sample,
                      const Instant& at, PathState& p) {
    float4 cam = sample4(seed, px, py, sample, GROUP_CAMERA);
    p.ray = camera_ray(camera_at(s, at), px, py, make_float2(cam.y, cam.z));
    p.beta = splat3(1.0f);
    p.radiance = splat3(0.0f);
    p.medium = splat3(0.0f);
    p.prev_bsdf_pdf = 0.0f;
    p.bounce = 0u;
    p.transparent_hits = 0u;
    p.rays = 0u;
    p.px = px;
    p.py = py;
    p.sample = sample;
    p.albedo = splat3(0.0f);
    p.normal = splat3(0.0f);
    p.depth = 0.0f;
    p.hit = false;
}

// One step of the path after its ray was traced (`found`: `hit` is valid).
// Returns whether the path goes on with p.ray; sets `has_shadow` when `shadow`
// must be traced (its contribution counts even when the path ends here).
TS_HD bool path_shade(const SceneView& s, unsigned seed, unsigned max_depth, const Instant& at, PathState& p,
                      bool found, const Hit& hit, ShadowRay& shadow, bool& has_shadow) {
    has_shadow = false;
    p.beta *= transmittance(p.medium, found ? hit.t : TS_INF);
    if (!found) {
        float3 env = env_radiance(s, p.ray.dir);
        if (s.header.env_light != NONE && !is_black(env)) {
            float weight = 1.0f;
            if (p.bounce != 0u) {
                float light_pdf = ldg(&s.lights[s.header.env_light].pick_pdf) * env_pdf(s, p.ray.dir);
                weight = power_heuristic(p.prev_bsdf_pdf, light_pdf);
            }
            p.radiance += p.beta * env * weight;
        }
        return false;
    }
    SurfaceHit surf = surface_hit(s, hit, p.ray.dir, at);
    const Material& material = s.materials[surf.material];

    // Alpha blending: pass through with probability 1 - alpha, without a bounce.
    if ((material.flags & MAT_ALPHA_BLEND) && p.transparent_hits < MAX_TRANSPARENT_HITS) {
        float alpha = material_alpha(s, material, surf.uv0, surf.uv1);
        if (sample4(seed, p.px, p.py, p.sample, group_transparency(p.bounce, p.transparent_hits)).x >= alpha) {
            p.transparent_hits += 1u;
            float3 side = surf.front_face ? -surf.geo_normal : surf.geo_normal;
            p.ray.origin = offset_ray_origin(surf.position, side);
            return true;
        }
    }
    p.transparent_hits = 0u;

    ShadingPoint sp = shade(s, surf);
    if (p.bounce == 0u) {
        p.hit = true;
        p.albedo = sp.albedo;
        p.normal = sp.frame.n;
        p.depth = hit.t;
    }

    // Emission reached by the camera or by BSDF sampling, weighted against NEE.
    if (!is_black(sp.emission)) {
        unsigned tri_light = ldg(&s.triangles[hit.tri].light);
        float weight = 1.0f;
        if (p.bounce != 0u && tri_light != NONE) {
            float cos_light = dot(p.ray.dir, surf.geo_normal);
            weight = power_heuristic(p.prev_bsdf_pdf, triangle_light_pdf(s, hit.tri, hit.t, cos_light, at));
        }
        p.radiance += p.beta * sp.emission * weight;
    }

    // An unlit surface shows its colour and reflects nothing.
    if (p.bounce == max_depth || (material.flags & MAT_UNLIT) != 0u) return false;

    float3 wo = to_local(sp.frame, -p.ray.dir);
    BsdfView view = bsdf_view(sp.bsdf, wo);

    // Next-event estimation: the shadow ray is traced by the caller.
    LightSample ls;
    if (sample_light(s, surf.position, sample4(seed, p.px, p.py, p.sample, group_light(p.bounce)), at, ls)) {
        if (!is_black(ls.radiance)) {
            float3 wi = to_local(sp.frame, ls.wi);
            float bsdf_pdf;
            float3 f = bsdf_view_eval_pdf(view, wi, bsdf_pdf);
            if (!is_black(f)) {
                float3 side = dot(ls.wi, sp.geo_normal) >= 0.0f ? sp.geo_normal : -sp.geo_normal;
                shadow.ray.origin = offset_ray_origin(surf.position, side);
                shadow.ray.dir = ls.wi;
                shadow.t_max = ts_isfinite(ls.dist) ? ls.dist * (1.0f - 1e-4f) : TS_INF;
                float weight = ls.delta ? 1.0f : power_heuristic(ls.pdf, bsdf_pdf);
                float3 absorbed = transmittance(medium_after(material, wo.z, wi.z, p.medium), ls.dist);
                shadow.contribution = p.beta * f * absorbed * ls.radiance * (weight / ls.pdf);
                has_shadow = true;
            }
        }
    }

    // Continue the path by sampling the BSDF.
    float4 u = sample4(seed, p.px, p.py, p.sample, group_bsdf(p.bounce));
    BsdfSample bs;
    if (!bsdf_view_sample(view, u.x, make_float2(u.y, u.z), bs)) return false;
    p.beta *= bs.weight;
    p.prev_bsdf_pdf = bs.pdf;
    p.medium = medium_after(material, wo.z, bs.wi.z, p.medium);
    float3 wi_world = to_world(sp.frame, bs.wi);
    float3 side = dot(wi_world, sp.geo_normal) >= 0.0f ? sp.geo_normal : -sp.geo_normal;
    p.ray.origin = offset_ray_origin(surf.position, side);
    p.ray.dir = wi_world;

    // Russian roulette: continue with probability max(beta), reweighting survivors.
    if (p.bounce >= RR_START_BOUNCE) {
        float survive = fminf(max_element(p.beta), 1.0f);
        if (u.w >= survive) return false;
        p.beta /= survive;
    }
    if (is_black(p.beta) || !is_finite3(p.beta)) return false;
    p.bounce += 1u;
    return true;
}

TS_HD void path_add_shadow(PathState& p, const ShadowRay& shadow, bool blocked) {
    if (!blocked) p.radiance += shadow.contribution;
}

TS_HD PathResult path_result(const PathState& p) {
    PathResult r;
    r.radiance = is_finite3(p.radiance) ? p.radiance : splat3(0.0f);
    r.albedo = p.albedo;
    r.normal = p.normal;
    r.depth = p.depth;
    r.hit = p.hit;
    r.rays = p.rays;
    return r;
}

// Traces sample `sample` of pixel (px, py) through all stages in one thread.
TS_HD PathResult trace_path(const SceneView& s, unsigned seed, unsigned px, unsigned py, unsigned sample,
                            unsigned max_depth) {
    Instant at = sample_instant(s, seed, px, py, sample);
    PathState p;
    path_begin(s, seed, px, py, sample, at, p);
    for (;;) {
        p.rays += 1u;
        Hit hit;
        bool found = intersect(s, p.ray, TS_INF, at, hit);
        ShadowRay shadow;
        bool has_shadow;
        bool more = path_shade(s, seed, max_depth, at, p, found, hit, shadow, has_shadow);
        if (has_shadow) {
            p.rays += 1u;
            path_add_shadow(p, shadow, occluded(s, shadow.ray, shadow.t_max, at));
        }
        if (!more) break;
    }
    return path_result(p);
}

// Adds one path's result to a pixel's sums (integrator::accumulate).
TS_HD void accumulate(PixelSums& sums, const PathResult& r) {
    sums.radiance = sums.radiance + r.radiance;
    sums.radiance_sq = sums.radiance_sq + r.radiance * r.radiance;
    sums.albedo = sums.albedo + r.albedo;
    sums.normal = sums.normal + r.normal;
    sums.depth += r.depth;
    sums.alpha += r.hit ? 1.0f : 0.0f;
    sums.count += 1u;
}
