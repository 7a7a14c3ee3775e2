# Shared by the provision-*.sh scripts (sourced, not run): download a pinned
# wheel from PyPI and unpack some of its members. The caller defines `fail`.
#
# Downloads with `python3 -m pip download` when pip exists, else with curl from
# the PyPI JSON API at $PYPI_URL (the index's base URL); unpacks with python3 or
# unzip.

# fetch_wheel PACKAGE VERSION WHEEL SHA256 DIR: puts WHEEL into DIR and checks its SHA-256.
fetch_wheel() {
  local package="$1" version="$2" wheel="$3" sha256="$4" dir="$5"
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      --dest "$dir" "$package==$version" >"$dir/pip.log" 2>&1 ||
      fail "pip could not download $package==$version: $(tail -n 3 "$dir/pip.log")"
  elif command -v curl >/dev/null 2>&1; then
    [[ -n "${PYPI_URL:-}" ]] || fail "pip is not installed; install it (python3 -m ensurepip) or set PYPI_URL to the PyPI base URL for curl"
    local base="${PYPI_URL%/}/pypi/$package/$version" meta url
    meta="$(curl -fsSL "$base/json")" || fail "could not query $base/json"
    url="$(grep -o "\"url\": *\"[^\"]*/$wheel\"" <<<"$meta" | head -n 1 | sed 's/^"url": *"\(.*\)"$/\1/')"
    [[ -n "$url" ]] || fail "the PyPI JSON API lists no $wheel"
    # Mirrors may answer with URLs relative to the JSON document (curl resolves the ../).
    [[ "$url" == http*://* ]] || url="$base/$url"
    curl -fsSL -o "$dir/$wheel" "$url" || fail "could not download $url"
  else
    fail "neither pip nor curl is available to download $wheel"
  fi
  [[ -f "$dir/$wheel" ]] || fail "the download did not produce $wheel"
  echo "$sha256  $dir/$wheel" | sha256sum --check --status ||
    fail "$wheel does not have the expected SHA-256 $sha256"
}

# unpack_members WHEEL OUT MEMBER...: extracts the named members of WHEEL under OUT.
unpack_members() {
  local wheel="$1" out="$2"
  shift 2
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$wheel" "$out" "$@" <<'PY' || fail "could not unpack $wheel"
import sys, zipfile
wheel, out, *members = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for m in members:
        z.extract(m, out)
PY
  elif command -v unzip >/dev/null 2>&1; then
    unzip -q "$wheel" "$@" -d "$out" || fail "could not unpack $wheel"
  else
    fail "neither python3 nor unzip is available to unpack $wheel"
  fi
}
