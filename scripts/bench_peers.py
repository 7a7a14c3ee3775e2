"""Side-by-side peer benchmark: Tessera's CPU backend against Mitsuba 3 on the
same scene at equal settings, timing each renderer's whole process.

Run through scripts/bench-peers.sh (installs Mitsuba into .mitsuba/, builds or
finds Tessera, then calls `bench` here). Two subcommands:

  bench    run every renderer RUNS times, print the table, write summary-SIZEpx-SPPspp.json
  mitsuba  one Mitsuba render (the child process `bench` times)

Renderers (see scripts/bench-peers.sh's header for how the settings were matched):

  tessera                 target/release/tessera render --backend cpu (no --denoise)
  mitsuba-llvm-gltf       Mitsuba llvm_ad_rgb with scripts/mitsuba_cornell.py's glTF
                          BSDF (Tessera's model), a Python plugin that Dr.Jit traces
                          into its kernel: the same BSDF as Tessera's
  mitsuba-llvm-principled Mitsuba llvm_ad_rgb with its native C++ `principled` BSDF
                          (roughness 1, metallic 0, specular 0.5, i.e. F0 = 0.04)
  mitsuba-scalar-principled  the same on scalar_rgb. The Python glTF BSDF is written
                          with Dr.Jit arrays (gather, JIT loops) and cannot run on
                          scalar_rgb; a per-call Python BSDF would time the interpreter.
"""

import argparse
import json
import os
import pathlib
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
CORNELL = ROOT / "scenes" / "cornell-box.gltf"

# Tessera's --max-depth counts bounces (the first hit is bounce 0, and bounce
# max_depth only collects emission); Mitsuba's max_depth counts path vertices,
# camera segment included: Tessera's N is Mitsuba's N + 1.
TESSERA_MAX_DEPTH = 8
MITSUBA_MAX_DEPTH = TESSERA_MAX_DEPTH + 1
# Tessera plays Russian roulette after the BSDF sample of bounce >= 3
# (RR_START_BOUNCE in src/render/integrator.rs); Mitsuba after the BSDF sample
# that takes its depth counter (1 after the first hit) to >= rr_depth: 4.
MITSUBA_RR_DEPTH = 4

MITSUBA = {
    "mitsuba-llvm-gltf": ("llvm_ad_rgb", "gltf"),
    "mitsuba-llvm-principled": ("llvm_ad_rgb", "principled"),
    "mitsuba-scalar-principled": ("scalar_rgb", "principled"),
}


# ---------------------------------------------------------------- the child


def mitsuba_child(args):
    """Builds the Cornell box with mitsuba_cornell's functions, renders, writes
    the EXR and prints its phases as one JSON line (the parent times the whole
    process; the phases only break it down)."""
    t0 = time.perf_counter()
    import mitsuba as mi

    mi.set_variant(args.variant)
    import drjit as dr

    sys.path.insert(0, str(SCRIPTS))
    import mitsuba_cornell as mc

    t_import = time.perf_counter()
    if args.bsdf == "gltf":
        mc.register_bsdf(args.model, mc.load_table())
    integrator = {"type": "path", "max_depth": args.max_depth, "rr_depth": args.rr_depth}
    scene_desc = mc.scene_dict(args.size, args.spp, args.max_depth, integrator)
    if args.bsdf == "principled":
        for shape in scene_desc.values():
            if isinstance(shape, dict) and "bsdf" in shape:
                color = [float(c) for c in shape["bsdf"]["base_color"]]
                shape["bsdf"] = {"type": "principled", "base_color": {"type": "rgb", "value": color},
                                 "roughness": 1.0, "metallic": 0.0, "specular": 0.5}
    scene = mi.load_dict(scene_desc)
    t_load = time.perf_counter()
    image = mi.render(scene, spp=args.spp, seed=args.seed)
    dr.eval(image)
    dr.sync_thread()
    t_render = time.perf_counter()
    mi.util.write_bitmap(args.output, image)
    t_write = time.perf_counter()
    print("BENCH " + json.dumps({
        "import_s": t_import - t0, "load_s": t_load - t_import,
        "render_s": t_render - t_load, "write_s": t_write - t_render,
        "threads": dr.thread_count() if hasattr(dr, "thread_count") else None,
    }))


# ---------------------------------------------------------------- the parent


def timed(cmd, env=None):
    """Wall and CPU (user + sys) seconds of one whole child process, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout + proc.stderr


def render_seconds(name, output):
    """The renderer's own figure for the render alone (without start-up, load, write)."""
    if name == "tessera":
        m = re.search(r"Rendered \S+ at \d+ spp in ([\d.]+) s", output)
        return float(m.group(1)) if m else None
    m = re.search(r"^BENCH (.*)$", output, re.M)
    return json.loads(m.group(1))["render_s"] if m else None


def command(name, args, output):
    if name == "tessera":
        return [args.tessera, "render", str(CORNELL), "--backend", "cpu",
                "--width", str(args.size), "--height", str(args.size), "--spp", str(args.spp),
                "--max-depth", str(TESSERA_MAX_DEPTH), "--seed", "0", "-o", str(output)]
    variant, bsdf = MITSUBA[name]
    return [sys.executable, str(pathlib.Path(__file__).resolve()), "mitsuba", "--variant", variant,
            "--bsdf", bsdf, "--model", args.model, "--size", str(args.size), "--spp", str(args.spp),
            "--max-depth", str(MITSUBA_MAX_DEPTH), "--rr-depth", str(MITSUBA_RR_DEPTH), "-o", str(output)]


def image_mean(path):
    """Mean RGB of an EXR (the root layer of Tessera's multi-layer file): a check
    that both renderers drew the same picture, not a comparison of quality."""
    import mitsuba as mi

    mi.set_variant("scalar_rgb")
    sys.path.insert(0, str(SCRIPTS))
    import mitsuba_cornell as mc

    return [float(x) for x in mc.read_channels(path, 3).reshape(-1, 3).mean(axis=0)]


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(cmd):
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def bench(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = ["tessera"] + [n for n in args.renderers.split(",") if n and n != "tessera"]
    for n in names:
        if n != "tessera" and n not in MITSUBA:
            raise SystemExit(f"unknown renderer {n!r} (known: tessera, {', '.join(MITSUBA)})")
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    samples = args.size * args.size * args.spp
    machine = {"cpu": cpu_model(), "logical_cores": cores, "usable_cores": usable,
               "load_average_before": list(os.getloadavg())}
    print(f"Cornell box {args.size}x{args.size}, {args.spp} spp, Tessera --max-depth {TESSERA_MAX_DEPTH} "
          f"= Mitsuba max_depth {MITSUBA_MAX_DEPTH}, median of {args.runs} whole-process run(s)")
    print(f"machine: {machine['cpu']}, {cores} logical cores ({usable} usable), "
          f"load average {machine['load_average_before'][0]:.2f} at start")

    results = {}
    for name in names:
        output = out / f"cornell-{name}.exr"
        cmd = command(name, args, output)
        runs = []
        for i in range(args.warmup + args.runs):
            wall, cpu, log = timed(cmd)
            if i < args.warmup:
                continue
            runs.append({"wall_s": wall, "cpu_s": cpu, "render_s": render_seconds(name, log)})
            print(f"  {name} run {len(runs)}/{args.runs}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
        wall = statistics.median(r["wall_s"] for r in runs)
        rendered = [r["render_s"] for r in runs if r["render_s"] is not None]
        results[name] = {
            "command": [str(c) for c in cmd],
            "runs": runs,
            "wall_s_median": wall,
            "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
            "render_s_median": statistics.median(rendered) if rendered else None,
            "samples_per_s": samples / wall,
            "image": str(output.relative_to(ROOT) if output.is_relative_to(ROOT) else output),
            "image_mean_rgb": image_mean(output),
        }

    base = results["tessera"]
    print()
    header = (f"{'renderer':<26} {'wall s':>8} {'render s':>9} {'CPU s':>7} {'M samples/s':>12} "
              f"{'wall/Tessera':>13} {'mean/Tessera-1':>15}")
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        r["wall_ratio_to_tessera"] = r["wall_s_median"] / base["wall_s_median"]
        r["image_mean_vs_tessera"] = sum(r["image_mean_rgb"]) / sum(base["image_mean_rgb"]) - 1
        render = f"{r['render_s_median']:.2f}" if r["render_s_median"] is not None else "-"
        print(f"{name:<26} {r['wall_s_median']:8.2f} {render:>9} {r['cpu_s_median']:7.2f} "
              f"{r['samples_per_s'] / 1e6:12.3f} {r['wall_ratio_to_tessera']:12.2f}x "
              f"{100 * r['image_mean_vs_tessera']:+14.2f}%")
    machine["load_average_after"] = list(os.getloadavg())
    print(f"(wall/Tessera > 1: the peer is slower; {cores} logical cores; load average "
          f"{machine['load_average_after'][0]:.2f} at the end)")

    import mitsuba as mi

    summary = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "scene": str(CORNELL.relative_to(ROOT)),
        "settings": {"width": args.size, "height": args.size, "spp": args.spp, "runs": args.runs,
                     "warmup_runs": args.warmup, "tessera_max_depth": TESSERA_MAX_DEPTH,
                     "mitsuba_max_depth": MITSUBA_MAX_DEPTH, "mitsuba_rr_depth": MITSUBA_RR_DEPTH,
                     "pixel_filter": "box (one pixel)", "sampler": "scrambled (0, 2)-sequences (Tessera Sobol-Burley, Mitsuba ldsampler)", "seed": 0,
                     "gltf_bsdf_model": args.model},
        "machine": machine,
        "versions": {"tessera": version([args.tessera, "--version"]), "mitsuba": mi.__version__,
                     "python": platform.python_version(),
                     "git_commit": version(["git", "rev-parse", "HEAD"])},
        "results": results,
    }
    path = out / f"summary-{args.size}px-{args.spp}spp.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--tessera", required=True, help="the tessera binary")
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--warmup", type=int, default=0, help="untimed runs of each renderer first")
    b.add_argument("--spp", type=int, default=64)
    b.add_argument("--size", type=int, default=512)
    b.add_argument("--model", choices=["tessera", "appendix-b"], default="tessera")
    b.add_argument("--renderers", default=",".join(MITSUBA))
    b.add_argument("--out", default=str(ROOT / "out" / "bench-peers"))
    m = sub.add_parser("mitsuba")
    m.add_argument("--variant", required=True)
    m.add_argument("--bsdf", choices=["gltf", "principled"], required=True)
    m.add_argument("--model", choices=["tessera", "appendix-b"], default="tessera")
    m.add_argument("--size", type=int, required=True)
    m.add_argument("--spp", type=int, required=True)
    m.add_argument("--max-depth", type=int, required=True)
    m.add_argument("--rr-depth", type=int, required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    if args.command == "bench":
        if args.runs < 1 or args.spp < 1 or args.size < 1 or args.warmup < 0:
            raise SystemExit("RUNS, SPP and SIZE must be positive")
        bench(args)
    else:
        mitsuba_child(args)


if __name__ == "__main__":
    sys.exit(main())
