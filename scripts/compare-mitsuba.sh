#!/usr/bin/env bash
# Renders the Cornell box with Tessera and with Mitsuba 3 (CPU, llvm_ad_rgb)
# and prints the per-region differences, for both BSDF models Mitsuba is given
# (see scripts/mitsuba_cornell.py): the glTF specification's Appendix B and
# Tessera's model. Installs Mitsuba 3 from PyPI into .mitsuba/ (a virtual
# environment) and Debian's libllvm19 if missing.
#
#   bash scripts/compare-mitsuba.sh [SIZE] [MITSUBA_SPP] [TESSERA_SPP]   (default 256 4096 2048)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
size="${1:-256}" mitsuba_spp="${2:-4096}" tessera_spp="${3:-2048}"
out="$root/out/compare-mitsuba"
mkdir -p "$out"

source scripts/mitsuba-env.sh

cargo build --release --features cuda,oidn --quiet
target/release/tessera render scenes/cornell-box.gltf --width "$size" --height "$size" --spp "$tessera_spp" \
  --max-depth 8 -o "$out/tessera.exr"
for model in appendix-b tessera; do
  # Mitsuba's max_depth counts the camera segment: Tessera's 8 is its 9.
  .mitsuba/bin/python scripts/mitsuba_cornell.py render --model "$model" --spp "$mitsuba_spp" --size "$size" \
    --max-depth 9 -o "$out/mitsuba-$model.exr"
  echo "Tessera against Mitsuba with the $model BSDF:"
  .mitsuba/bin/python scripts/mitsuba_cornell.py compare "$out/mitsuba-$model.exr" "$out/tessera.exr"
done
