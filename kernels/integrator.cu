// Tessera's CUDA kernels, compiled at run time with NVRTC (src/backend/cuda).
// Each kernel is one stage of the wavefront path tracer (wavefront.cuh), one
// thread per queue entry; `ts_megakernel` traces whole paths in one thread
// instead. The per-item logic lives in the headers and also compiles on the host.
#include "wavefront.cuh"

#define TS_THREAD_INDEX (blockIdx.x * blockDim.x + threadIdx.x)

extern "C" __global__ void __launch_bounds__(TS_BLOCK) ts_generate(const SceneView s, const WaveParams w) {
    unsigned i = TS_THREAD_INDEX;
    if (i < w.path_count) wf_generate(s, w, i);
}

extern "C" __global__ void __launch_bounds__(TS_BLOCK) ts_extend(const SceneView s, const WaveParams w) {
    unsigned slot = TS_THREAD_INDEX;
    if (slot < w.queue_len) wf_extend(s, w, slot);
}

extern "C" __global__ void __launch_bounds__(TS_BLOCK) ts_shade(const SceneView s, const WaveParams w) {
    unsigned slot = TS_THREAD_INDEX;
    if (slot < w.queue_len) wf_shade(s, w, slot);
}

// Launched with queue_len threads (an upper bound); the shadow count is read on the device.
extern "C" __global__ void __launch_bounds__(TS_BLOCK) ts_shadow(const SceneView s, const WaveParams w) {
    unsigned slot = TS_THREAD_INDEX;
    if (slot < w.queue_len) wf_shadow(s, w, slot);
}

extern "C" __global__ void __launch_bounds__(TS_BLOCK) ts_megakernel(const SceneView s, const WaveParams w) {
    unsigned i = TS_THREAD_INDEX;
    if (i < w.path_count) wf_megakernel(s, w, i);
}

extern "C" __global__ void __launch_bounds__(TS_BLOCK) ts_accumulate(const WaveParams w) {
    unsigned p = TS_THREAD_INDEX;
    if (p < w.pixel_count) wf_accumulate(w, p);
}
