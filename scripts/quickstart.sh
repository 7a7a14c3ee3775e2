#!/usr/bin/env bash
# Renders a real scene with denoising, from a fresh checkout:
#   bash scripts/quickstart.sh [SCENE.gltf|.glb] [more `tessera render` options]
# It provisions Open Image Denoise into .oidn/ (scripts/provision-oidn.sh), builds
# Tessera in release mode with the denoiser, and renders SCENE (default: the
# FlightHelmet from ../shared/scenes, else the Cornell box in scenes/) to
# out/NAME.png (tone-mapped, denoised) and out/NAME.exr (linear, with the noisy
# beauty and the AOV layers). The backend is chosen automatically.
set -euo pipefail
cd "$(dirname "$0")/.."

helmet=../shared/scenes/FlightHelmet/glTF/FlightHelmet.gltf
if [[ $# -gt 0 && "$1" != -* ]]; then
  scene="$1"
  shift
elif [[ -f "$helmet" ]]; then
  scene="$helmet"
else
  scene=scenes/cornell-box.gltf
fi
[[ -f "$scene" ]] || { echo "quickstart: no scene file $scene" >&2; exit 1; }
name="$(basename "${scene%.*}")"

bash scripts/provision-oidn.sh
cargo build --release --features oidn
mkdir -p out
./target/release/tessera render "$scene" -o "out/$name.png" -o "out/$name.exr" \
  --width 720 --height 960 --spp 64 --denoise "$@"
echo "Open out/$name.png to see the result."
