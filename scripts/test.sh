#!/usr/bin/env bash
# Runs Tessera's whole test suite on a fresh Debian machine with the Rust toolchain.
# It first installs what the tests need:
#   - Mesa's lavapipe (software Vulkan), so the wgpu backend's shaders really run;
#   - NVRTC from PyPI, so every CUDA kernel is compiled for sm_90 (no GPU needed);
#   - a C++ compiler, so the kernels' per-path logic is tested on the host;
#   - Open Image Denoise 2.5.1 from PyPI, for the denoising tests;
#   - ffmpeg, for the preview movies (`tessera encode`, `submit --preview-movie`).
# Then: cargo fmt --check, cargo clippy (warnings are errors), cargo test, and half a
# minute of fuzzing for each fuzz target (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || missing+=(mesa-vulkan-drivers)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || missing+=(libvulkan1)
command -v c++ >/dev/null || missing+=(g++)
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} (apt)"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/provision-oidn.sh
bash scripts/provision-nvrtc.sh
export TESSERA_NVRTC_LIB="$PWD/.nvrtc/lib"
# lavapipe is installed above, so the wgpu tests must run rather than skip.
export TESSERA_REQUIRE_WGPU=1
# ffmpeg too, so the movie tests must run.
export TESSERA_REQUIRE_FFMPEG=1

cargo fmt --check
cargo clippy --all-targets --features cuda,oidn --quiet -- -D warnings
cargo test --features cuda,oidn
bash scripts/fuzz.sh 30
