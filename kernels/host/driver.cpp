// Host test driver: runs the kernels' per-path logic on the CPU so that
// tests/cuda_host.rs can compare it with the Rust reference. Reads commands
// from stdin, one per line, and answers one line each; floats travel as the
// hex of their bits, so nothing is lost in printing. The layout checks that
// the Rust side generates are compiled in (layout_checks.h).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "wavefront.cuh"
#include "layout_checks.h"

namespace {

// 16-byte aligned storage for one array of the flat scene.
struct Buffer {
    std::vector<float4> storage;
    size_t bytes = 0;
    const void* data() const { return storage.empty() ? nullptr : storage.data(); }
};

Buffer read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) {
        std::cerr << "cannot open " << path << "\n";
        std::exit(2);
    }
    Buffer b;
    b.bytes = (size_t)f.tellg();
    b.storage.resize((b.bytes + 15) / 16 + 1);
    f.seekg(0);
    f.read(reinterpret_cast<char*>(b.storage.data()), (std::streamsize)b.bytes);
    return b;
}

struct HostScene {
    std::vector<Buffer> buffers;
    SceneView view{};
};

HostScene load_scene(const std::string& dir) {
    HostScene h;
    const char* names[] = {"header",    "nodes",  "triangles",  "triangle_vertices", "vertices",
                           "materials", "textures", "texels",   "lights",            "light_cdf",
                           "env_texels", "env_marginal_cdf", "env_conditional_cdf", "srgb_to_linear",
                           "motion", "motion_cameras", "motion_nodes", "motion_triangles", "motion_vertices"};
    for (const char* n : names) h.buffers.push_back(read_file(dir + "/" + n + ".bin"));
    std::memcpy(&h.view.header, h.buffers[0].data(), sizeof(SceneHeader));
    h.view.nodes = static_cast<const BvhNode*>(h.buffers[1].data());
    h.view.triangles = static_cast<const Triangle*>(h.buffers[2].data());
    h.view.triangle_vertices = static_cast<const TriangleVertices*>(h.buffers[3].data());
    h.view.vertices = static_cast<const Vertex*>(h.buffers[4].data());
    h.view.materials = static_cast<const Material*>(h.buffers[5].data());
    h.view.textures = static_cast<const Texture*>(h.buffers[6].data());
    h.view.texels = static_cast<const unsigned*>(h.buffers[7].data());
    h.view.lights = static_cast<const Light*>(h.buffers[8].data());
    h.view.light_cdf = static_cast<const float*>(h.buffers[9].data());
    h.view.env_texels = static_cast<const float4*>(h.buffers[10].data());
    h.view.env_marginal_cdf = static_cast<const float*>(h.buffers[11].data());
    h.view.env_conditional_cdf = static_cast<const float*>(h.buffers[12].data());
    h.view.srgb_to_linear = static_cast<const float*>(h.buffers[13].data());
    h.view.lights_len = (unsigned)(h.buffers[8].bytes / sizeof(Light));
    std::memcpy(&h.view.motion, h.buffers[14].data(), sizeof(MotionHeader));
    h.view.motion_cameras = static_cast<const Camera*>(h.buffers[15].data());
    h.view.motion_nodes = static_cast<const BvhNode*>(h.buffers[16].data());
    h.view.motion_triangles = static_cast<const Triangle*>(h.buffers[17].data());
    h.view.motion_vertices = static_cast<const Vertex*>(h.buffers[18].data());
    return h;
}

unsigned next_u(std::istringstream& in) {
    unsigned long v = 0;
    std::string tok;
    in >> tok;
    v = std::strtoul(tok.c_str(), nullptr, 16);
    return (unsigned)v;
}
float next_f(std::istringstream& in) { return __uint_as_float(next_u(in)); }
float2 next_f2(std::istringstream& in) {
    float x = next_f(in);
    return make_float2(x, next_f(in));
}
float3 next_f3(std::istringstream& in) {
    float x = next_f(in), y = next_f(in);
    return make_float3(x, y, next_f(in));
}

struct Out {
    std::ostringstream s;
    Out& u(unsigned v) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%08x ", v);
        s << buf;
        return *this;
    }
    Out& f(float v) { return u(__float_as_uint(v)); }
    Out& f2(float2 v) { return f(v.x).f(v.y); }
    Out& f3(float3 v) { return f(v.x).f(v.y).f(v.z); }
    Out& b(bool v) { return u(v ? 1u : 0u); }
};

// An instant of the shutter: moving flag, segment, fraction.
Instant next_instant(std::istringstream& in) {
    Instant at;
    at.moving = next_u(in) != 0u;
    at.segment = next_u(in);
    at.fraction = next_f(in);
    return at;
}

Bsdf next_bsdf(std::istringstream& in) {
    float3 base = next_f3(in);
    float metallic = next_f(in), roughness = next_f(in), ior = next_f(in), transmission = next_f(in);
    bool thin = next_u(in) != 0u;
    float specular = next_f(in);
    float3 specular_color = next_f3(in);
    Bsdf b = bsdf_with_specular_color(bsdf_new(base, metallic, roughness, ior, transmission, thin, specular),
                                      specular_color);
    float film = next_f(in), film_ior = next_f(in);
    b = bsdf_with_iridescence(b, film, film_ior, next_f(in));
    b = bsdf_with_anisotropy(b, next_f(in));
    float coat = next_f(in), coat_roughness = next_f(in);
    float3 coat_normal = next_f3(in);
    b = bsdf_with_coat(b, coat, coat_roughness, coat_normal);
    float3 sheen_color = next_f3(in);
    return bsdf_with_sheen(b, sheen_color, next_f(in));
}

// Runs the waves of one task through the wavefront stages (mode 0) or the
// megakernel (mode 1), exactly as the kernels would, and writes the tile's sums.
void render(const SceneView& s, std::istringstream& in, Out& out) {
    unsigned mode = next_u(in);
    WaveParams w{};
    w.seed = next_u(in);
    w.max_depth = next_u(in);
    w.tile_x = next_u(in);
    w.tile_y = next_u(in);
    w.tile_width = next_u(in);
    unsigned tile_height = next_u(in);
    w.capacity = next_u(in);
    std::string path;
    in >> path;
    std::vector<float4> state((size_t)STATE_LANES * w.capacity), hits(w.capacity), shadow((size_t)SHADOW_LANES * w.capacity);
    std::vector<unsigned> qa(w.capacity), qb(w.capacity), qs(w.capacity), counters(4, 0u);
    std::vector<PixelSums> pixels((size_t)w.tile_width * tile_height);
    std::memset(pixels.data(), 0, pixels.size() * sizeof(PixelSums));
    unsigned long long rays = 0;
    w.state = state.data();
    w.hits = hits.data();
    w.shadow = shadow.data();
    w.shadow_queue = qs.data();
    w.counters = counters.data();
    w.pixels = pixels.data();
    w.rays = &rays;
    unsigned waves = next_u(in);
    unsigned longest = 0;
    for (unsigned k = 0; k < waves; ++k) {
        w.pixel_begin = next_u(in);
        w.pixel_count = next_u(in);
        w.sample_begin = next_u(in);
        w.sample_count = next_u(in);
        w.path_count = w.pixel_count * w.sample_count;
        w.queue_in = qa.data();
        w.queue_out = qb.data();
        if (mode == 1u) {
            for (unsigned i = 0; i < w.path_count; ++i) wf_megakernel(s, w, i);
        } else {
            for (unsigned i = 0; i < w.path_count; ++i) wf_generate(s, w, i);
            w.queue_len = w.path_count;
            unsigned iterations = 0;
            while (w.queue_len > 0) {
                counters[COUNTER_NEXT] = counters[COUNTER_SHADOW] = 0u;
                for (unsigned slot = 0; slot < w.queue_len; ++slot) wf_extend(s, w, slot);
                for (unsigned slot = 0; slot < w.queue_len; ++slot) wf_shade(s, w, slot);
                for (unsigned slot = 0; slot < w.queue_len; ++slot) wf_shadow(s, w, slot);
                unsigned* t = w.queue_in;
                w.queue_in = w.queue_out;
                w.queue_out = t;
                w.queue_len = counters[COUNTER_NEXT];
                ++iterations;
            }
            longest = iterations > longest ? iterations : longest;
        }
        for (unsigned p = 0; p < w.pixel_count; ++p) wf_accumulate(w, p);
    }
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(pixels.data()), (std::streamsize)(pixels.size() * sizeof(PixelSums)));
    out.u((unsigned)(rays >> 32)).u((unsigned)rays).u(longest);
}

}  // namespace

int main() {
    HostScene scene;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        Out out;
        const SceneView& s = scene.view;
        if (cmd.empty()) {
            continue;
        } else if (cmd == "scene") {
            std::string dir;
            in >> dir;
            scene = load_scene(dir);
            out.u(scene.view.header.num_triangles);
        } else if (cmd == "hash") {
            out.u(pcg_hash(next_u(in)));
        } else if (cmd == "frame_seed") {
            unsigned a = next_u(in);
            out.u(frame_seed(a, next_u(in)));
        } else if (cmd == "rand4") {
            unsigned seed = next_u(in), px = next_u(in), py = next_u(in), sample = next_u(in), group = next_u(in);
            float4 r = rand4(seed, px, py, sample, group);
            out.f(r.x).f(r.y).f(r.z).f(r.w);
        } else if (cmd == "sample4") {
            unsigned seed = next_u(in), px = next_u(in), py = next_u(in), sample = next_u(in), group = next_u(in);
            float4 r = sample4(seed, px, py, sample, group);
            out.f(r.x).f(r.y).f(r.z).f(r.w);
        } else if (cmd == "frame") {
            float3 n = next_f3(in), t = next_f3(in);
            Frame f = frame_from_normal_tangent(n, t);
            out.f3(f.t).f3(f.b).f3(f.n);
        } else if (cmd == "frame0") {
            Frame f = frame_from_normal(next_f3(in));
            out.f3(f.t).f3(f.b).f3(f.n);
        } else if (cmd == "disk") {
            out.f2(square_to_concentric_disk(next_f2(in)));
        } else if (cmd == "cosine") {
            out.f3(square_to_cosine_hemisphere(next_f2(in)));
        } else if (cmd == "sphere") {
            out.f3(square_to_uniform_sphere(next_f2(in)));
        } else if (cmd == "triangle") {
            out.f2(square_to_uniform_triangle(next_f2(in)));
        } else if (cmd == "power") {
            float a = next_f(in);
            out.f(power_heuristic(a, next_f(in)));
        } else if (cmd == "eval") {
            Bsdf b = next_bsdf(in);
            float3 wo = next_f3(in), wi = next_f3(in);
            float pdf;
            float3 e = bsdf_eval_pdf(b, wo, wi, pdf);
            out.f3(e).f(pdf);
        } else if (cmd == "sample") {
            Bsdf b = next_bsdf(in);
            float3 wo = next_f3(in);
            float u_lobe = next_f(in);
            float2 u = next_f2(in);
            BsdfSample bs{};
            bool ok = bsdf_sample(b, wo, u_lobe, u, bs);
            out.b(ok).f3(bs.wi).f3(bs.weight).f(bs.pdf).b(bs.transmitted);
        } else if (cmd == "light") {
            float3 p = next_f3(in);
            float ux = next_f(in), uy = next_f(in), uz = next_f(in), uw = next_f(in);
            LightSample ls{};
            bool ok = sample_light(s, p, make_float4(ux, uy, uz, uw), next_instant(in), ls);
            out.b(ok).f3(ls.wi).f(ls.dist).f3(ls.radiance).f(ls.pdf).b(ls.delta);
        } else if (cmd == "env") {
            float3 d = next_f3(in);
            out.f3(env_radiance(s, d)).f(env_pdf(s, d));
        } else if (cmd == "intersect" || cmd == "occluded") {
            Ray ray;
            ray.origin = next_f3(in);
            ray.dir = next_f3(in);
            float t_max = next_f(in);
            Instant at = next_instant(in);
            if (cmd == "occluded") {
                out.b(occluded(s, ray, t_max, at));
            } else {
                Hit hit{};
                bool found = intersect(s, ray, t_max, at, hit);
                out.b(found).f(hit.t).f(hit.u).f(hit.v).u(hit.tri);
            }
        } else if (cmd == "trace") {
            unsigned seed = next_u(in), px = next_u(in), py = next_u(in), sample = next_u(in), depth = next_u(in);
            PathResult r = trace_path(s, seed, px, py, sample, depth);
            out.f3(r.radiance).f3(r.albedo).f3(r.normal).f(r.depth).b(r.hit).u(r.rays);
        } else if (cmd == "render") {
            render(s, in, out);
        } else {
            std::cerr << "unknown command " << cmd << "\n";
            return 2;
        }
        std::cout << out.s.str() << "\n";
    }
    return 0;
}
