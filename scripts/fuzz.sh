#!/usr/bin/env bash
# Fuzzes what another tenant controls, for a bounded time per target:
#   gltf_load    a .gltf/.glb file: load, then prepare for rendering
#   tile_result  an uploaded tile result: decode, then re-encode
# usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 30 s, both)
# Findings are written to fuzz/artifacts/TARGET/ and fail the run; the corpus grows
# in fuzz/corpus/TARGET/ and is seeded from the scenes in scenes/ and ../shared/scenes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(gltf_load tile_result); fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
seed_dirs=(scenes)
[ -d ../shared/scenes ] && seed_dirs+=(../shared/scenes)
python3 scripts/fuzz_seeds.py fuzz/corpus/gltf_load "${seed_dirs[@]}"
mkdir -p fuzz/corpus/tile_result

for target in "${targets[@]}"; do
    # No sanitizer: the stable toolchain has none, and Rust code is memory-safe;
    # libFuzzer still catches panics, aborts, timeouts and RSS over the limit.
    cargo fuzz run --sanitizer none "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1
done
