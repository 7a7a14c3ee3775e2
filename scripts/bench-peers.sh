#!/usr/bin/env bash
# Peer benchmark: renders the Cornell box (scenes/cornell-box.gltf) at equal
# settings with Tessera's CPU backend and with Mitsuba 3 (llvm_ad_rgb and
# scalar_rgb), times each renderer's whole process (start-up, scene load, JIT
# compilation, render, EXR write), and prints the median of RUNS runs, samples/s
# and each peer's time over Tessera's, with the machine's core count. Writes the
# images and out/bench-peers/summary-SIZEpx-SPPspp.json (settings, machine,
# versions, every run).
#
#   bash scripts/bench-peers.sh [RUNS] [SPP] [SIZE]            (default 3 64 512)
#
# Environment: TESSERA_BIN=path/to/tessera skips the build (default: cargo build
# --release --features cuda,oidn); PEERS=a,b picks the Mitsuba renderers
# (default mitsuba-llvm-gltf,mitsuba-llvm-principled,mitsuba-scalar-principled);
# WARMUP=N untimed runs of each renderer first (default 0); BSDF_MODEL=tessera|
# appendix-b for the glTF BSDF (default tessera).
#
# Installs Mitsuba 3.9.1 from PyPI into .mitsuba/ (a virtual environment) and
# Debian's libllvm19 (for Dr.Jit's LLVM backend) if missing, as
# scripts/compare-mitsuba.sh does; the scene is built in Mitsuba by
# scripts/mitsuba_cornell.py's functions (geometry, camera, light, glTF BSDF).
#
# Equal settings, and how they were chosen:
# - Resolution SIZE x SIZE and SPP samples per pixel on both; seed 0.
# - Depth: Tessera --max-depth 8 is Mitsuba max_depth 9. Tessera counts bounces
#   (first hit = bounce 0; bounce 8 only gathers emission), Mitsuba counts path
#   vertices with the camera segment; both do next-event estimation at 8 vertices
#   and collect emission at the 9th.
# - Russian roulette: Tessera starts after the BSDF sample of bounce 3
#   (RR_START_BOUNCE, src/render/integrator.rs), which is Mitsuba rr_depth 4.
#   Survival: Tessera min(max(throughput), 1), Mitsuba min(max(throughput), 0.95).
# - Integrator: unidirectional path tracing with light sampling and MIS (power
#   heuristic) on both (Mitsuba `path`).
# - Pixel filter: Tessera jitters each camera sample uniformly over its pixel and
#   adds it to that pixel only (camera_ray in src/render/integrator.rs): a
#   one-pixel box filter, so Mitsuba gets rfilter `box`. Sampler: Tessera
#   draws shuffled, Owen-scrambled 2D Sobol pairs (src/sampling/rng.rs), a
#   scrambled (0, 2)-sequence per pair of dimensions: Mitsuba `ldsampler`.
# - Camera, geometry and light: read from the glTF by mitsuba_cornell.py (the
#   setup whose images scripts/compare-mitsuba.sh shows agree within 0.13 %).
#   Environment: black on both (Tessera picks black for this scene by itself).
# - BSDF: mitsuba-llvm-gltf runs mitsuba_cornell.py's glTF BSDF with Tessera's
#   model, a Python plugin that Dr.Jit traces into the render kernel, so it runs
#   compiled. It cannot run on scalar_rgb (it is written with Dr.Jit arrays), so
#   the *-principled rows use Mitsuba's native `principled` BSDF (roughness 1,
#   metallic 0, specular 0.5 = F0 0.04): a similar, not identical, material.
#   The "mean/Tessera-1" column shows how close each picture is.
# - Threads: every renderer uses all cores (Tessera's default, Mitsuba's too).
# - Tessera: --backend cpu, no --denoise (denoising is off unless asked for);
#   its EXR carries AOV layers (albedo, normal, depth) that Mitsuba's does not.
# - Dr.Jit caches compiled kernels in ~/.drjit: a first llvm_ad_rgb run compiles,
#   later ones mostly load; the median of 3 hides a cold first run (or WARMUP=1).
set -euo pipefail
caller="$PWD"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-3}" spp="${2:-64}" size="${3:-512}"
peers="${PEERS:-mitsuba-llvm-gltf,mitsuba-llvm-principled,mitsuba-scalar-principled}"
out="$root/out/bench-peers"
mkdir -p "$out"

source scripts/mitsuba-env.sh

if [ -n "${TESSERA_BIN:-}" ]; then
  tessera="$TESSERA_BIN"
else
  cargo build --release --features cuda,oidn --quiet
  tessera="$root/target/release/tessera"
fi
# A relative TESSERA_BIN names a file from the caller's folder, else from the root.
case "$tessera" in
  /*) ;;
  *) if [ -e "$caller/$tessera" ]; then tessera="$caller/$tessera"; else tessera="$root/$tessera"; fi ;;
esac
if [ ! -x "$tessera" ]; then
  echo "bench-peers: no Tessera binary at $tessera" >&2
  exit 1
fi

.mitsuba/bin/python scripts/bench_peers.py bench --tessera "$tessera" --runs "$runs" --spp "$spp" \
  --size "$size" --renderers "$peers" --warmup "${WARMUP:-0}" --model "${BSDF_MODEL:-tessera}" --out "$out"
