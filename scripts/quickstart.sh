#!/usr/bin/env bash
# Renders a real scene with denoising, from a fresh checkout:
#   bash scripts/quickstart.sh [SCENE.gltf|.glb] [more `tessera render` options]
# It provisions Open Image Denoise into .oidn/ (scripts/provision-oidn.sh), builds
# Tessera in release mode with the denoiser, and renders SCENE (default: the
# FlightHelmet from ../shared/scenes, else the Cornell box in scenes/) to
# out/NAME.png (tone-mapped, denoised) and out/NAME.exr (linear, with the noisy
# beauty and the AOV layers). The backend is chosen automatically: on a machine
# with an NVIDIA driver, NVRTC is provisioned too (scripts/provision-nvrtc.sh) so
# the CUDA backend can compile its kernels.
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
if ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
  bash scripts/provision-nvrtc.sh
  export TESSERA_NVRTC_LIB="${TESSERA_NVRTC_LIB:-$PWD/.nvrtc/lib}"
fi
cargo build --release --features cuda,oidn
mkdir -p out
./target/release/tessera render "$scene" -o "out/$name.png" -o "out/$name.exr" \
  --width 720 --height 960 --spp 64 --denoise "$@"
echo "Open out/$name.png to see the result."
