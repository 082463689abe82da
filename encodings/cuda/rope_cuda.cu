// RoPE / xPos apply on the GPU: one thread per (row, pair), every head, by the
// same rope_apply_pair as the CPU loop (encodings/rope_apply.h).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "encodings/rope.h"

namespace pelab {

namespace {

__global__ void rope_apply_kernel(RopeApplyParams<float> p, int direction) {
  const int half = p.rot_dim / 2;
  const int64_t total = static_cast<int64_t>(p.rows) * half;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    rope_apply_pair(p, e / half, static_cast<int>(e % half), direction);
}

void rope_apply_cuda(const RopeApplyParams<float>& p, int direction) {
  PELAB_CHECK(p.rot_dim % 2 == 0 && p.rot_dim <= p.head_dim && p.rot_dim > 0,
              "rotary dims must be even and at most the head dim, got " << p.rot_dim << " of " << p.head_dim,
              "use an even head dim");
  const int64_t total = static_cast<int64_t>(p.rows) * (p.rot_dim / 2);
  if (total == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((total + threads - 1) / threads, 65535));
  rope_apply_kernel<<<blocks, threads>>>(p, direction);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error(std::string("CUDA error in the RoPE apply kernel: ") + cudaGetErrorString(e),
                "x, positions, inv_freq and xpos_zeta must be device memory on a usable GPU");
  }
}

}  // namespace

void rope_forward_cuda(const RopeApplyParams<float>& p) { rope_apply_cuda(p, +1); }
void rope_backward_cuda(const RopeApplyParams<float>& p) { rope_apply_cuda(p, -1); }

}  // namespace pelab
