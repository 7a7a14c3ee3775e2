#!/usr/bin/env bash
# Installs Open Image Denoise 2.5.1 (Intel's official Linux x86_64 build, CPU and
# CUDA devices) into .oidn/ at the repository root, for `--features oidn`.
#
# The binaries come from the `pyoidn` wheel on PyPI, which ships them unchanged;
# the wheel's SHA-256 is pinned below. Layout afterwards (what the oidn crate's
# build script expects of OIDN_DIR):
#   .oidn/lib/libOpenImageDenoise.so -> .so.2 -> .so.2.5.1, libOpenImageDenoise_core.so.2.5.1,
#   libOpenImageDenoise_device_{cpu,cuda}.so.2.5.1, libtbb.so.12
#
# Then build with `cargo build --features oidn`: .cargo/config.toml points
# OIDN_DIR at .oidn/ (an OIDN_DIR already in the environment wins), and build.rs
# gives the binaries an rpath to $OIDN_DIR/lib, so nothing else needs setting.
# To use another OIDN 2.5 install, set OIDN_DIR to its prefix instead.
#
# Idempotent: does nothing when .oidn/ already holds this version. Downloading
# and unpacking: scripts/wheel.sh.
set -euo pipefail

VERSION=2.5.1
WHEEL=pyoidn-2.5.1.0-py3-none-manylinux2014_x86_64.whl
WHEEL_SHA256=32ad13368f8de1ef63001942ad05b02a00cd732d1206d97f352d3a3f606d823e
# The libraries Tessera needs; the wheel also carries SYCL and HIP devices.
LIBS=(
  libOpenImageDenoise.so.$VERSION
  libOpenImageDenoise_core.so.$VERSION
  libOpenImageDenoise_device_cpu.so.$VERSION
  libOpenImageDenoise_device_cuda.so.$VERSION
  libtbb.so.12
)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.oidn"
stage="$root/.oidn.partial"

# shellcheck source=scripts/wheel.sh
source "$root/scripts/wheel.sh"

fail() {
  echo "provision-oidn: $*" >&2
  exit 1
}

if [[ "$(cat "$dest/VERSION" 2>/dev/null)" == "$VERSION" ]]; then
  exit 0
fi
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] ||
  fail "prebuilt binaries exist for Linux x86_64 only; install Open Image Denoise $VERSION yourself and set OIDN_DIR to its prefix"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp" "$stage"' EXIT

# Download the wheel and unpack only the libraries.
fetch_wheel pyoidn "$VERSION.0" "$WHEEL" "$WHEEL_SHA256" "$tmp"
members=("${LIBS[@]/#/pyoidn/oidn/lib/}")
unpack_members "$tmp/$WHEEL" "$tmp/unpacked" "${members[@]}"

# Assemble beside the destination, then swap it in, so an interrupted run
# never leaves a half-filled .oidn/.
rm -rf "$stage"
mkdir -p "$stage/lib"
mv "$tmp/unpacked/pyoidn/oidn/lib/"* "$stage/lib/"
chmod 0755 "$stage/lib/"*
ln -s "libOpenImageDenoise.so.$VERSION" "$stage/lib/libOpenImageDenoise.so.2"
ln -s libOpenImageDenoise.so.2 "$stage/lib/libOpenImageDenoise.so"
echo "$VERSION" >"$stage/VERSION"
rm -rf "$dest"
mv "$stage" "$dest"
