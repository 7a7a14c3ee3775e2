#!/usr/bin/env bash
# Installs NVRTC 12.8 (NVIDIA's runtime CUDA compiler, Linux x86_64) into .nvrtc/
# at the repository root, so the CUDA backend's kernels can be compiled (for
# sm_90 in CI) on a machine without the CUDA toolkit or a GPU.
#
# The libraries come from the `nvidia-cuda-nvrtc-cu12` wheel on PyPI, which ships
# them unchanged; the wheel's SHA-256 is pinned below. Layout afterwards:
#   .nvrtc/lib/libnvrtc.so.12 (+ libnvrtc.so), libnvrtc-builtins.so.12.8, LICENSE
# libnvrtc loads libnvrtc-builtins from its own folder at run time.
#
# Tessera finds it through TESSERA_NVRTC_LIB=$PWD/.nvrtc/lib (scripts/test.sh sets
# it); without that variable it uses the libnvrtc on the library path, as
# installed by the CUDA toolkit.
#
# Idempotent: does nothing when .nvrtc/ already holds this version. Downloading
# and unpacking: scripts/wheel.sh.
set -euo pipefail

VERSION=12.8.93
PACKAGE=nvidia-cuda-nvrtc-cu12
WHEEL=nvidia_cuda_nvrtc_cu12-12.8.93-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl
WHEEL_SHA256=a7756528852ef889772a84c6cd89d41dfa74667e24cca16bb31f8f061e3e9994
LIBS=(libnvrtc.so.12 libnvrtc-builtins.so.12.8)
LICENSE=nvidia_cuda_nvrtc_cu12-$VERSION.dist-info/License.txt

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.nvrtc"
stage="$root/.nvrtc.partial"

# shellcheck source=scripts/wheel.sh
source "$root/scripts/wheel.sh"

fail() {
  echo "provision-nvrtc: $*" >&2
  exit 1
}

if [[ "$(cat "$dest/VERSION" 2>/dev/null)" == "$VERSION" ]]; then
  exit 0
fi
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] ||
  fail "this script installs the Linux x86_64 build only; install the CUDA toolkit's NVRTC and put it on the library path (or set TESSERA_NVRTC_LIB to its folder)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp" "$stage"' EXIT

# Download the wheel and unpack only the libraries and the licence.
fetch_wheel "$PACKAGE" "$VERSION" "$WHEEL" "$WHEEL_SHA256" "$tmp"
members=("${LIBS[@]/#/nvidia/cuda_nvrtc/lib/}" "$LICENSE")
unpack_members "$tmp/$WHEEL" "$tmp/unpacked" "${members[@]}"

# Assemble beside the destination, then swap it in, so an interrupted run
# never leaves a half-filled .nvrtc/.
rm -rf "$stage"
mkdir -p "$stage/lib"
mv "$tmp/unpacked/nvidia/cuda_nvrtc/lib/"* "$stage/lib/"
chmod 0755 "$stage/lib/"*
ln -s libnvrtc.so.12 "$stage/lib/libnvrtc.so"
mv "$tmp/unpacked/$LICENSE" "$stage/LICENSE"
echo "$VERSION" >"$stage/VERSION"
rm -rf "$dest"
mv "$stage" "$dest"
