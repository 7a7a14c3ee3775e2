"""Renders Tessera's Cornell box with Mitsuba 3 (an independent renderer) and
compares it region by region with a Tessera render of the same scene.

The geometry, camera and light are read from scenes/cornell-box.gltf. Every
material there is a white-or-coloured dielectric of roughness 1, rendered in
Mitsuba by a BSDF plugin written here from the formulas, in one of two models:

  appendix-b  the glTF 2.0 specification's metallic-roughness BRDF as its
              Appendix B writes it: fresnel_mix(diffuse, GGX specular) with
              Schlick's F at V·H, single-scattering GGX, height-correlated Smith;
  tessera     Tessera's model (src/sampling/bsdf.rs): the same specular lobe
              compensated for multiple scattering, and the diffuse base weighted
              by the layer's directional albedo, from src/sampling/ggx_albedo.table.

Usage: scripts/compare-mitsuba.sh (installs Mitsuba, renders both, prints the table).
  python scripts/mitsuba_cornell.py render --model appendix-b --spp 4096 --size 256 -o mitsuba.exr
  python scripts/mitsuba_cornell.py compare mitsuba.exr tessera.exr
"""

import argparse
import base64
import json
import math
import pathlib
import re
import struct
import sys
import tempfile

import mitsuba as mi

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCENE = ROOT / "scenes" / "cornell-box.gltf"
TABLE = ROOT / "src" / "sampling" / "ggx_albedo.table"

# The layout of ggx_albedo.table (src/sampling/ggx_albedo.rs).
ROUGHNESS_STEPS = 32
COS_STEPS = 32
AVERAGES = ROUGHNESS_STEPS * COS_STEPS * 2


def gltf_meshes():
    """(name, positions, indices, material) of every mesh node, in file order."""
    doc = json.loads(SCENE.read_text())
    uri = doc["buffers"][0]["uri"]
    data = base64.b64decode(uri.split(",", 1)[1])

    def accessor(i):
        a = doc["accessors"][i]
        view = doc["bufferViews"][a["bufferView"]]
        start = view.get("byteOffset", 0) + a.get("byteOffset", 0)
        if a["componentType"] == 5126:
            n = a["count"] * 3
            return list(struct.unpack_from(f"<{n}f", data, start))
        fmt = {5121: "B", 5123: "H", 5125: "I"}[a["componentType"]]
        return list(struct.unpack_from(f"<{a['count']}{fmt}", data, start))

    meshes = []
    for node in doc["nodes"]:
        if "mesh" not in node:
            continue
        prim = doc["meshes"][node["mesh"]]["primitives"][0]
        meshes.append((node.get("name", "mesh"), accessor(prim["attributes"]["POSITION"]),
                       accessor(prim["indices"]), doc["materials"][prim["material"]]))
    camera = next(n for n in doc["nodes"] if "camera" in n)
    yfov = doc["cameras"][camera["camera"]]["perspective"]["yfov"]
    return meshes, camera["translation"], math.degrees(yfov)


def load_table():
    text = TABLE.read_text()
    numbers = re.findall(r"[-+]?\d+\.?\d*(?:e[-+]?\d+)?", text.split("[", 1)[1])
    return [float(x) for x in numbers]


def register_bsdf(model, table):
    import drjit as dr

    Float = mi.Float

    class GltfBsdf(mi.BSDF):
        """Dielectric glTF material of roughness 1 and ior 1.5 (what the Cornell box uses)."""

        def __init__(self, props):
            mi.BSDF.__init__(self, props)
            self.base = mi.Color3f(props["base_color"])
            self.alpha = 1.0
            self.f0 = 0.04
            self.distr = mi.MicrofacetDistribution(mi.MicrofacetType.GGX, self.alpha, True)
            row = ROUGHNESS_STEPS - 1
            self.e1 = Float([table[(row * COS_STEPS + c) * 2] for c in range(COS_STEPS)])
            self.d = Float([table[(row * COS_STEPS + c) * 2 + 1] for c in range(COS_STEPS)])
            a = [table[AVERAGES + row * 3 + k] for k in range(3)]
            self.average = a[0] + self.f0 * (a[1] + self.f0 * a[2])
            reflection = mi.BSDFFlags.FrontSide
            self.m_components = [mi.BSDFFlags.DiffuseReflection | reflection,
                                 mi.BSDFFlags.GlossyReflection | reflection]
            self.m_flags = self.m_components[0] | self.m_components[1]

        def schlick(self, c):
            return self.f0 + (1.0 - self.f0) * dr.power(1.0 - dr.clip(c, 0.0, 1.0), 5.0)

        def lam(self, v):
            cos2 = dr.square(mi.Frame3f.cos_theta(v))
            tan2 = dr.maximum(1.0 - cos2, 0.0) / cos2
            return 0.5 * (dr.sqrt(1.0 + self.alpha * self.alpha * tan2) - 1.0)

        def lookup(self, mu):
            # The table's column coordinate u = μ (1 + α) / (μ + α) at α = 1.
            x = dr.clip(mu * 2.0 / (mu + 1.0) * (COS_STEPS - 1), 0.0, COS_STEPS - 1)
            c0 = dr.minimum(mi.UInt32(x), COS_STEPS - 2)
            t = x - Float(c0)
            e1 = dr.lerp(dr.gather(Float, self.e1, c0), dr.gather(Float, self.e1, c0 + 1), t)
            d = dr.lerp(dr.gather(Float, self.d, c0), dr.gather(Float, self.d, c0 + 1), t)
            w = d + dr.power(1.0 - dr.clip(mu, 0.0, 1.0), 5.0) * e1
            layer = (self.f0 * (e1 - w) + w) * (1.0 + self.f0 * (1.0 - e1) / e1)
            return e1, layer

        def eval_pdf(self, ctx, si, wo, active=True):
            wi = si.wi
            cos_i, cos_o = mi.Frame3f.cos_theta(wi), mi.Frame3f.cos_theta(wo)
            active = active & (cos_i > 0) & (cos_o > 0)
            h = dr.normalize(wi + wo)
            fresnel = self.schlick(dr.dot(wi, h))
            g2 = 1.0 / (1.0 + self.lam(wi) + self.lam(wo))
            specular = self.distr.eval(h) * g2 / (4.0 * cos_i * cos_o)
            if model == "appendix-b":
                f = (1.0 - fresnel) * self.base * dr.inv_pi + fresnel * specular
            else:
                e1_i, layer_i = self.lookup(cos_i)
                _, layer_o = self.lookup(cos_o)
                through = dr.maximum(1.0 - layer_i, 0.0) * dr.maximum(1.0 - layer_o, 0.0) / (1.0 - self.average)
                compensation = 1.0 + self.f0 * (1.0 - e1_i) / e1_i
                f = self.base * (dr.inv_pi * through) + fresnel * compensation * specular
            pdf = (0.3 * self.distr.pdf(wi, h) / (4.0 * dr.dot(wo, h))
                   + 0.7 * mi.warp.square_to_cosine_hemisphere_pdf(wo))
            value = dr.select(active, f * cos_o, 0.0)
            return value, dr.select(active, pdf, 0.0)

        def eval(self, ctx, si, wo, active=True):
            return self.eval_pdf(ctx, si, wo, active)[0]

        def pdf(self, ctx, si, wo, active=True):
            return self.eval_pdf(ctx, si, wo, active)[1]

        def sample(self, ctx, si, sample1, sample2, active=True):
            wi = si.wi
            specular = sample1 < 0.3
            m, _ = self.distr.sample(wi, sample2)
            wo = dr.select(specular, mi.reflect(wi, m), mi.warp.square_to_cosine_hemisphere(sample2))
            value, pdf = self.eval_pdf(ctx, si, wo, active)
            bs = mi.BSDFSample3f()
            bs.wo = wo
            bs.pdf = pdf
            bs.eta = 1.0
            bs.sampled_component = dr.select(specular, mi.UInt32(1), mi.UInt32(0))
            bs.sampled_type = dr.select(specular, mi.UInt32(+mi.BSDFFlags.GlossyReflection),
                                        mi.UInt32(+mi.BSDFFlags.DiffuseReflection))
            ok = active & (pdf > 0) & (mi.Frame3f.cos_theta(wo) > 0)
            return bs, dr.select(ok, value / pdf, 0.0)

        def traverse(self, callback):
            pass

        def to_string(self):
            return f"GltfBsdf[{model}]"

    mi.register_bsdf("gltf", lambda props: GltfBsdf(props))


def scene_dict(size, spp, max_depth, integrator):
    meshes, eye, fov = gltf_meshes()
    scene = {
        "type": "scene",
        "integrator": integrator,
        "sensor": {
            "type": "perspective",
            "fov": fov,
            "fov_axis": "y",
            "to_world": mi.ScalarTransform4f.look_at(origin=eye, target=[eye[0], eye[1], eye[2] + 1.0], up=[0, 1, 0]),
            "film": {"type": "hdrfilm", "width": size, "height": size, "rfilter": {"type": "box"},
                     "pixel_format": "rgb"},
            # Both renderers draw scrambled (0, 2)-sequences pair by pair.
            "sampler": {"type": "ldsampler", "sample_count": spp},
        },
    }
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tessera-cornell-"))
    for i, (name, positions, indices, material) in enumerate(meshes):
        # OBJ without normals: Mitsuba shades flat, with the winding's front face, as glTF.
        path = folder / f"{i:02d}.obj"
        lines = [f"v {positions[k]} {positions[k + 1]} {positions[k + 2]}" for k in range(0, len(positions), 3)]
        lines += [f"f {indices[k] + 1} {indices[k + 1] + 1} {indices[k + 2] + 1}" for k in range(0, len(indices), 3)]
        path.write_text("\n".join(lines) + "\n")
        color = material["pbrMetallicRoughness"]["baseColorFactor"][:3]
        shape = {"type": "obj", "id": f"{i:02d}_{name}", "filename": str(path), "face_normals": True,
                 "bsdf": {"type": "gltf", "base_color": mi.ScalarColor3f(color)}}
        if "emissiveFactor" in material:
            strength = material["extensions"]["KHR_materials_emissive_strength"]["emissiveStrength"]
            radiance = [c * strength for c in material["emissiveFactor"]]
            shape["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": radiance}}
        scene[f"{i:02d}_{name}"] = shape
    return scene


def render(args):
    mi.set_variant(args.variant)
    register_bsdf(args.model, load_table())
    scene = mi.load_dict(scene_dict(args.size, args.spp, args.max_depth,
                                    {"type": "path", "max_depth": args.max_depth, "rr_depth": 1000}))
    image = mi.render(scene, spp=args.spp, seed=args.seed)
    mi.util.write_bitmap(args.output, image)
    write_shape_ids(scene, args.size, pathlib.Path(args.output).with_suffix(".ids.exr"))
    print(f"wrote {args.output}")


def write_shape_ids(scene, size, path):
    """The index (in scenes/cornell-box.gltf's node order) of the surface each
    pixel centre sees, −1 where none: the sensor's rays against the glTF's
    triangles (Mitsuba merges meshes that share a material, so it cannot say)."""
    import numpy as np

    sensor = scene.sensors()[0]
    x, y = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    position = mi.Point2f(mi.Float((x.ravel() / size).astype(np.float32)),
                          mi.Float((y.ravel() / size).astype(np.float32)))
    rays, _ = sensor.sample_ray(0.0, 0.5, position, mi.Point2f(0.5, 0.5))
    origin, direction = np.array(rays.o, dtype=np.float64), np.array(rays.d, dtype=np.float64)
    if origin.shape[0] == 3:
        origin, direction = origin.T, direction.T
    best = np.full(size * size, np.inf)
    ids = np.full(size * size, -1.0, dtype=np.float32)
    for index, (_, positions, indices, _) in enumerate(gltf_meshes()[0]):
        p = np.reshape(positions, (-1, 3)).astype(np.float64)
        for a, b, c in np.reshape(indices, (-1, 3)):
            # Möller–Trumbore, every ray at once.
            e1, e2 = p[b] - p[a], p[c] - p[a]
            pv = np.cross(direction, e2)
            det = pv @ e1
            tv = origin - p[a]
            u = np.einsum("ij,ij->i", tv, pv) / det
            qv = np.cross(tv, e1)
            v = (direction * qv).sum(axis=1) / det
            t = (qv @ e2) / det
            hit = (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6) & (t < best)
            best[hit] = t[hit]
            ids[hit] = index
    mi.util.write_bitmap(str(path), mi.TensorXf(ids.reshape(size, size, 1)))


def read_channels(path, count):
    """The first `count` channels of an EXR as an H × W × count array (the root
    layer comes first: R, G, B of a multi-layer Tessera EXR)."""
    import numpy as np

    pixels = np.array(mi.Bitmap(str(path)), copy=True)
    return (pixels if pixels.ndim == 3 else pixels[:, :, None])[:, :, :count]


def compare(args):
    import numpy as np

    mi.set_variant("scalar_rgb")
    meshes, _, _ = gltf_meshes()
    ref = read_channels(args.reference, 3)
    ours = read_channels(args.tessera, 3)
    assert ref.shape == ours.shape, f"sizes differ: {ref.shape} vs {ours.shape}"
    ids = np.rint(read_channels(pathlib.Path(args.reference).with_suffix(".ids.exr"), 1)[:, :, 0]).astype(int)
    # Interior pixels only: the four neighbours show the same surface.
    inner = np.zeros_like(ids, dtype=bool)
    core = ids[1:-1, 1:-1]
    inner[1:-1, 1:-1] = ((core == ids[:-2, 1:-1]) & (core == ids[2:, 1:-1])
                         & (core == ids[1:-1, :-2]) & (core == ids[1:-1, 2:]))
    print(f"{'region':<12} {'pixels':>7}  {'Mitsuba R, G, B':>26}  {'Tessera / Mitsuba - 1 (R, G, B)':>32}")
    for index, (name, _, _, material) in enumerate(meshes):
        mask = inner & (ids == index)
        if "emissiveFactor" in material or not mask.any():
            continue
        r, t = ref[mask].mean(axis=0), ours[mask].mean(axis=0)
        diff = "  ".join(f"{100 * (t[c] / r[c] - 1):+7.2f}%" for c in range(3))
        print(f"{name:<12} {mask.sum():>7}  {r[0]:8.4f} {r[1]:8.4f} {r[2]:8.4f}  {diff}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render")
    r.add_argument("--model", choices=["appendix-b", "tessera"], required=True)
    r.add_argument("--spp", type=int, default=4096)
    r.add_argument("--size", type=int, default=256)
    r.add_argument("--max-depth", type=int, default=9, help="Mitsuba's depth: Tessera's --max-depth + 1")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--variant", default="llvm_ad_rgb")
    r.add_argument("-o", "--output", required=True)
    c = sub.add_parser("compare")
    c.add_argument("reference")
    c.add_argument("tessera")
    args = parser.parse_args()
    render(args) if args.command == "render" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
