// The GPU RoPE/xPos apply against the CPU loop (one definition of the math in
// encodings/rope_apply.h): partial rotary, both layouts, YaRN's scale, xPos on
// q and k, RoPE positions up to 10^5, forward and backward. Both compute cos/sin in
// double and round once to fp32; the device's cos/sin may differ from glibc's
// in the last double ulp, which can flip an fp32 rounding: |diff| <= 1e-6 +
// 1e-6·|cpu| (an fp32 ulp is 6e-8 relative; values are O(1), xPos scales O(10)).
#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "encodings/rope.h"
#include "gpu_test_util.h"

namespace pelab {
namespace {

template <typename T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  EXPECT_EQ(cudaMalloc(&d, h.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return d;
}

struct RopeCase {
  RopeLayout layout;
  bool xpos;
  int sign;
  double mscale;
};

class RopeCuda : public ::testing::TestWithParam<RopeCase> {};

TEST_P(RopeCuda, MatchesTheCpuLoop) {
  PELAB_REQUIRE_GPU();
  const RopeCase c = GetParam();
  const int rows = 37, heads = 3, D = 64, rot = 48;
  const int64_t row_stride = heads * D + 5;  // padded rows
  std::mt19937_64 gen(7);
  std::normal_distribution<double> nd;
  std::vector<float> x(rows * row_stride);
  for (float& v : x) v = static_cast<float>(nd(gen));
  std::vector<double> pos(rows);
  // RoPE up to ~10^5; xPos's scale ζ^((pos - centre)/512) leaves fp32's range long before that.
  for (int r = 0; r < rows; ++r) pos[r] = r * (c.xpos ? 13.0 : 2711.0);
  RopeParams rp;
  rp.dim = rot;
  const std::vector<double> inv = rope_inv_freq_table(rp, rows), zeta = xpos_zeta_table(rot, 0.4);

  RopeApplyParams<float> p;
  p.row_stride = row_stride, p.head_stride = D, p.rows = rows, p.heads = heads, p.head_dim = D, p.rot_dim = rot;
  p.layout = c.layout, p.mscale = c.mscale, p.xpos_sign = c.sign, p.xpos_centre = rows / 2, p.xpos_scale_base = 512;
  for (int direction : {+1, -1}) {
    SCOPED_TRACE(direction > 0 ? "forward" : "backward");
    std::vector<float> cpu = x;
    RopeApplyParams<float> pc = p;
    pc.x = cpu.data(), pc.positions = pos.data(), pc.inv_freq = inv.data(), pc.xpos_zeta = c.xpos ? zeta.data() : nullptr;
    direction > 0 ? rope_forward(pc) : rope_backward(pc);

    RopeApplyParams<float> pg = p;
    pg.x = to_device(x), pg.positions = to_device(pos), pg.inv_freq = to_device(inv);
    pg.xpos_zeta = c.xpos ? to_device(zeta) : nullptr;
    ASSERT_NO_THROW(direction > 0 ? rope_forward_cuda(pg) : rope_backward_cuda(pg));
    std::vector<float> gpu(x.size());
    PELAB_CUDA_OK(cudaMemcpy(gpu.data(), pg.x, x.size() * sizeof(float), cudaMemcpyDeviceToHost));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (!(std::fabs(gpu[i] - cpu[i]) <= 1e-6 + 1e-6 * std::fabs(cpu[i])) && ++bad < 5)
        ADD_FAILURE() << "element " << i << ": gpu " << gpu[i] << " cpu " << cpu[i];
    EXPECT_EQ(bad, 0);
    cudaFree(pg.x), cudaFree(const_cast<double*>(pg.positions)), cudaFree(const_cast<double*>(pg.inv_freq));
    cudaFree(const_cast<double*>(pg.xpos_zeta));
  }
}

INSTANTIATE_TEST_SUITE_P(, RopeCuda,
                         ::testing::Values(RopeCase{RopeLayout::HALF_SPLIT, false, +1, 1.0},
                                           RopeCase{RopeLayout::INTERLEAVED, false, +1, 1.0},
                                           RopeCase{RopeLayout::HALF_SPLIT, false, +1, 1.2079},  // YaRN s = 8
                                           RopeCase{RopeLayout::HALF_SPLIT, true, +1, 1.0},      // xPos q
                                           RopeCase{RopeLayout::INTERLEAVED, true, -1, 1.0}),    // xPos k
                         [](const auto& info) {
                           const RopeCase& c = info.param;
                           return std::string(c.layout == RopeLayout::INTERLEAVED ? "interleaved" : "halfsplit") +
                                  (c.xpos ? (c.sign > 0 ? "_xpos_q" : "_xpos_k") : "_rope") + (c.mscale != 1.0 ? "_yarn" : "");
                         });

}  // namespace
}  // namespace pelab
