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
# Idempotent: does nothing when .oidn/ already holds this version. Downloads with
# `python3 -m pip download` when pip exists, else with curl from the PyPI JSON API
# at $PYPI_URL (the index's base URL); unpacks with python3 or unzip.
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

# Download the wheel.
if python3 -m pip --version >/dev/null 2>&1; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --dest "$tmp" "pyoidn==$VERSION.0" >"$tmp/pip.log" 2>&1 ||
    fail "pip could not download pyoidn==$VERSION.0: $(tail -n 3 "$tmp/pip.log")"
elif command -v curl >/dev/null 2>&1; then
  [[ -n "${PYPI_URL:-}" ]] || fail "pip is not installed; install it (python3 -m ensurepip) or set PYPI_URL to the PyPI base URL for curl"
  meta="$(curl -fsSL "${PYPI_URL%/}/pypi/pyoidn/json")" || fail "could not query ${PYPI_URL%/}/pypi/pyoidn/json"
  url="$(grep -o "\"url\": *\"[^\"]*/$WHEEL\"" <<<"$meta" | head -n 1 | sed 's/^"url": *"\(.*\)"$/\1/')"
  [[ -n "$url" ]] || fail "the PyPI JSON API lists no $WHEEL"
  # Mirrors may answer with URLs relative to the JSON document (curl resolves the ../).
  [[ "$url" == http*://* ]] || url="${PYPI_URL%/}/pypi/pyoidn/$url"
  curl -fsSL -o "$tmp/$WHEEL" "$url" || fail "could not download $url"
else
  fail "neither pip nor curl is available to download $WHEEL"
fi
[[ -f "$tmp/$WHEEL" ]] || fail "the download did not produce $WHEEL"
echo "$WHEEL_SHA256  $tmp/$WHEEL" | sha256sum --check --status ||
  fail "$WHEEL does not have the expected SHA-256 $WHEEL_SHA256"

# Unpack only the libraries.
members=("${LIBS[@]/#/pyoidn/oidn/lib/}")
if command -v python3 >/dev/null 2>&1; then
  python3 - "$tmp/$WHEEL" "$tmp/unpacked" "${members[@]}" <<'EOF' || fail "could not unpack $WHEEL"
import sys, zipfile
wheel, out, *members = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for m in members:
        z.extract(m, out)
EOF
elif command -v unzip >/dev/null 2>&1; then
  unzip -q "$tmp/$WHEEL" "${members[@]}" -d "$tmp/unpacked" || fail "could not unpack $WHEEL"
else
  fail "neither python3 nor unzip is available to unpack $WHEEL"
fi

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
