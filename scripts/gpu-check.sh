#!/usr/bin/env bash
# The GPU check: the CUDA and wgpu backends on a machine with an NVIDIA GPU and no
# Rust toolchain.
#
#   bash scripts/gpu-check.sh build   here: builds what that machine needs and packs
#                                     it into .gpu-check/ (git-ignored)
#   bash scripts/gpu-check.sh run     there, in the repository root with .gpu-check/
#                                     carried beside it: runs the checks and writes
#                                     gpu-check.json and gpu-check.log into $OUT
#                                     (when set) or .gpu-check/
#
# With the device tool: `build` here, then one `run` call with carry [".gpu-check"]
# and the command `bash scripts/gpu-check.sh run`.
#
# `run` takes about 6 minutes at most, each step under its own time limit, and
# records every step's outcome (exit status, seconds, the end of its output):
#   1. tessera info --devices
#   2. the CUDA z-tests against the CPU reference (tests/backend_cuda.rs), with the
#      machine's own NVRTC (the CUDA toolkit's, or a pip package's)
#   3. the wgpu tests (tests/backend_wgpu.rs) on the GPU's Vulkan driver, with the
#      Vulkan loader packed by `build` when the machine has none
#   4. tessera bench --backend cuda, wavefront and megakernel, on the Cornell box,
#      FlightHelmet and MetalRoughSpheresNoTextures at 1920×1080, 64 spp
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.gpu-check

build() {
    rm -rf "$PACK"
    mkdir -p "$PACK/bin" "$PACK/debs"
    cargo build --release --features cuda --bin tessera
    cp target/release/tessera "$PACK/bin/"
    # The z-tests are test binaries; they find scenes through the folder they were
    # built in (CARGO_MANIFEST_DIR), which `run` recreates there.
    cargo test --features cuda --no-run --test backend_cuda --test backend_wgpu --message-format=json |
        python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])' |
        while read -r name exe; do cp "$exe" "$PACK/bin/$name"; done
    strip "$PACK"/bin/*
    cp -r --no-preserve=mode ../shared/scenes "$PACK/scenes"
    pwd >"$PACK/build-dir"
    (cd "$PACK/debs" && apt-get download libvulkan1 >/dev/null) ||
        echo "gpu-check: no libvulkan1 package; the wgpu step will need the machine's own Vulkan loader"
    # Compressed, the binaries fit the device tool's 64 MiB.
    tar -C "$PACK" -cJf "$PACK/bin.tar.xz" bin && rm -rf "$PACK/bin"
    du -sh "$PACK"
}

# step NAME SECONDS COMMAND...: runs COMMAND under a time limit, logging its output.
step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS rc=0
    echo "=== $name (limit ${limit} s): $*" >>"$LOG"
    timeout --kill-after=5 "$limit" "$@" >"$WORK/$name.out" 2>&1 || rc=$?
    cat "$WORK/$name.out" >>"$LOG"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >>"$WORK/steps.tsv"
}

run() {
    local out=${OUT:-$PACK}
    LOG=$out/gpu-check.log
    WORK=$(mktemp -d)
    : >"$LOG"
    tar -C "$PACK" -xJf "$PACK/bin.tar.xz"
    local bin=$PWD/$PACK/bin
    # The test binaries look for the repository where it was built and for the
    # shared scenes beside it.
    local built
    built=$(cat "$PACK/build-dir")
    if [ "$built" != "$PWD" ] && [ ! -e "$built" ]; then
        mkdir -p "$(dirname "$built")" && ln -s "$PWD" "$built"
    fi
    if [ ! -e "$built/../shared/scenes" ]; then
        mkdir -p "$built/../shared" && ln -s "$PWD/$PACK/scenes" "$built/../shared/scenes"
    fi
    if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
        for deb in "$PACK"/debs/*.deb; do
            if [ -e "$deb" ]; then dpkg -x "$deb" /; fi
        done
        ldconfig
    fi
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -e "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
    local nvrtc
    nvrtc=$( (ls /usr/local/cuda/lib64/libnvrtc.so* 2>/dev/null; find / -xdev -name 'libnvrtc.so*' 2>/dev/null) |
        grep -v builtins | head -n 1 || true)
    if [ -n "$nvrtc" ]; then export TESSERA_NVRTC_LIB=$nvrtc; fi
    echo "gpu-check: NVRTC ${nvrtc:-not found}, Vulkan ICD ${VK_DRIVER_FILES:-default}" >>"$LOG"

    step devices 20 "$bin/tessera" info --devices
    # Required: a test that would skip without a device fails instead.
    TESSERA_REQUIRE_CUDA=1 step cuda-tests 150 "$bin/backend_cuda"
    TESSERA_REQUIRE_WGPU=1 step wgpu-tests 90 "$bin/backend_wgpu"
    local scenes=(
        "cornell-box:"
        "FlightHelmet:$PACK/scenes/FlightHelmet/glTF/FlightHelmet.gltf"
        "MetalRoughSpheres:$PACK/scenes/MetalRoughSpheresNoTextures/glTF/MetalRoughSpheresNoTextures.gltf"
    )
    for kernel in wavefront megakernel; do
        for entry in "${scenes[@]}"; do
            local name=${entry%%:*} scene=${entry#*:}
            TESSERA_CUDA_KERNEL=$kernel step "bench-$kernel-$name" 25 "$bin/tessera" bench --backend cuda \
                --width 1920 --height 1080 --spp 64 --json ${scene:+"$scene"}
        done
    done
    python3 - "$WORK" "$out/gpu-check.json" <<'EOF'
import json, pathlib, sys
work, report = pathlib.Path(sys.argv[1]), sys.argv[2]
steps = []
for line in (work / "steps.tsv").read_text().splitlines():
    name, rc, seconds = line.split("\t")
    output = (work / f"{name}.out").read_text(errors="replace")
    step = {"step": name, "exit_status": int(rc), "seconds": int(seconds), "passed": rc == "0"}
    if name.startswith("bench-"):
        reports = [json.loads(l) for l in output.splitlines() if l.startswith("{")]
        step["bench"] = reports[-1] if reports else None
    step["output_tail"] = output[-4000:]
    steps.append(step)
json.dump({"steps": steps, "all_passed": all(s["passed"] for s in steps)}, open(report, "w"), indent=1)
for s in steps:
    bench = s.get("bench") or {}
    figures = f"{bench['rays_per_second'] / 1e9:.2f} G rays/s, {bench['samples_per_second'] / 1e6:.1f} M samples/s" if bench else ""
    print(f"{s['step']:32} {'ok' if s['passed'] else 'FAILED (' + str(s['exit_status']) + ')':12} {s['seconds']:4} s  {figures}")
EOF
}

case "${1:-}" in
    build) build ;;
    run) run ;;
    *)
        echo "usage: bash scripts/gpu-check.sh build|run" >&2
        exit 2
        ;;
esac
