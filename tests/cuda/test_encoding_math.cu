// The encoding math headers compile for the device and give the host's numbers:
// one definition, two compilers (style.md §7.5).
#include <vector>

#include "encodings/bias_math.h"
#include "encodings/rope_math.h"
#include "encodings/xpos_math.h"
#include "gpu_test_util.h"

namespace pelab {

__global__ void eval_math(RopeParams p, int n_heads, double* inv_freq, double* slopes, int* buckets, float* rotated) {
  const int k = threadIdx.x;
  if (k < p.dim / 2) inv_freq[k] = rope_inv_freq(p, k, 8192);
  if (k < n_heads) slopes[k] = alibi_slope(k, n_heads);
  buckets[k] = t5_bucket(k * 7, false, 32, 128);
  float u = 1.0f, v = 2.0f;
  rope_rotate(&u, &v, cosf(0.1f * k), sinf(0.1f * k));
  rotated[2 * k] = u;
  rotated[2 * k + 1] = v;
}

TEST(GpuEncodingMath, DeviceMatchesHost) {
  PELAB_REQUIRE_GPU();
  RopeParams p;
  p.dim = 128;
  p.scaling = RopeScaling::YARN;
  p.factor = 4;
  p.original_length = 2048;
  constexpr int kThreads = 64, kHeads = 12;
  double *d_inv, *d_slopes;
  int* d_buckets;
  float* d_rot;
  PELAB_CUDA_OK(cudaMalloc(&d_inv, kThreads * sizeof(double)));
  PELAB_CUDA_OK(cudaMalloc(&d_slopes, kThreads * sizeof(double)));
  PELAB_CUDA_OK(cudaMalloc(&d_buckets, kThreads * sizeof(int)));
  PELAB_CUDA_OK(cudaMalloc(&d_rot, 2 * kThreads * sizeof(float)));
  eval_math<<<1, kThreads>>>(p, kHeads, d_inv, d_slopes, d_buckets, d_rot);
  PELAB_CUDA_OK(cudaDeviceSynchronize());
  std::vector<double> inv(kThreads), slopes(kThreads);
  std::vector<int> buckets(kThreads);
  std::vector<float> rot(2 * kThreads);
  PELAB_CUDA_OK(cudaMemcpy(inv.data(), d_inv, kThreads * sizeof(double), cudaMemcpyDeviceToHost));
  PELAB_CUDA_OK(cudaMemcpy(slopes.data(), d_slopes, kThreads * sizeof(double), cudaMemcpyDeviceToHost));
  PELAB_CUDA_OK(cudaMemcpy(buckets.data(), d_buckets, kThreads * sizeof(int), cudaMemcpyDeviceToHost));
  PELAB_CUDA_OK(cudaMemcpy(rot.data(), d_rot, 2 * kThreads * sizeof(float), cudaMemcpyDeviceToHost));
  for (int k = 0; k < kThreads; ++k) {
    // Device pow/log may differ from glibc in the last bits: 1e-14 relative.
    EXPECT_NEAR(inv[k], rope_inv_freq(p, k, 8192), 1e-14 * rope_inv_freq(p, k, 8192)) << k;
    if (k < kHeads) EXPECT_NEAR(slopes[k], alibi_slope(k, kHeads), 1e-15) << k;
    EXPECT_EQ(buckets[k], t5_bucket(k * 7, false, 32, 128)) << k;
    float u = 1.0f, v = 2.0f;
    rope_rotate(&u, &v, cosf(0.1f * k), sinf(0.1f * k));
    // cosf/sinf on the device are within 2 ulp of the host's.
    EXPECT_NEAR(rot[2 * k], u, 1e-6f) << k;
    EXPECT_NEAR(rot[2 * k + 1], v, 1e-6f) << k;
  }
  cudaFree(d_inv);
  cudaFree(d_slopes);
  cudaFree(d_buckets);
  cudaFree(d_rot);
}

TEST(GpuDevice, QueryReportsTheDevice) {
  PELAB_REQUIRE_GPU();
  cudaDeviceProp prop{};
  PELAB_CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  EXPECT_GE(prop.major, 7);
}

}  // namespace pelab
