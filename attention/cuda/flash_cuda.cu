// Host side of the CUDA attention: checks, the runtime-to-template dispatch
// (head dim, bias mode, causal), the bias table by distance and the learned
// bias gradient's chain rule (the CPU's attn_bias_param_grad, one definition).
#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "attention/attention_impl.h"
#include "attention/cuda/flash_cuda.h"
#include "core/error.h"

namespace pelab {

namespace cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky launch error so the next call reports its own
    throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e),
                "check that the device is usable (pelab version) and the tensors are device memory");
  }
}

template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(std::max<size_t>(n, 1)) { check(cudaMalloc(&p_, n_ * sizeof(T)), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_;
};

bool is_device_pointer(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

int bias_mode(const AttnBiasParams& b) {
  switch (b.kind) {
    case AttnBias::NONE: return kBiasNone;
    case AttnBias::ALIBI: return kBiasAlibi;
    default: return kBiasTable;
  }
}

// Distances n = qpos - kpos a visible pair can have: [dist_min, dist_min + ndist).
template <typename T>
void distance_range(const AttentionParams<T>& p, int64_t* dist_min, int64_t* ndist) {
  int64_t lo = p.q_offset - (p.k_offset + p.nk - 1);
  int64_t hi = p.q_offset + p.nq - 1 - p.k_offset;
  if (p.causal) lo = std::max<int64_t>(lo, 0);
  if (hi < lo) hi = lo;  // nothing visible: a one-entry table that is never read
  *dist_min = lo;
  *ndist = hi - lo + 1;
}

// The device element type of a host element type: float, or bf16 -> __nv_bfloat16 (same bits).
template <typename T> struct DeviceType { using type = T; };
template <> struct DeviceType<bf16> { using type = __nv_bfloat16; };

template <typename T, typename U = typename DeviceType<T>::type>
FlashArgs<U> make_args(const AttentionParams<T>& p) {
  FlashArgs<U> a;
  a.q = reinterpret_cast<const U*>(p.q), a.k = reinterpret_cast<const U*>(p.k), a.v = reinterpret_cast<const U*>(p.v);
  a.o = reinterpret_cast<U*>(p.o), a.lse = p.lse;
  a.q_batch_stride = p.q_batch_stride, a.q_row_stride = p.q_row_stride, a.q_head_stride = p.q_head_stride;
  a.k_batch_stride = p.k_batch_stride, a.k_row_stride = p.k_row_stride, a.k_head_stride = p.k_head_stride;
  a.v_batch_stride = p.v_batch_stride, a.v_row_stride = p.v_row_stride, a.v_head_stride = p.v_head_stride;
  a.o_batch_stride = p.o_batch_stride, a.o_row_stride = p.o_row_stride, a.o_head_stride = p.o_head_stride;
  a.batch = p.batch, a.heads = p.heads, a.nq = p.nq, a.nk = p.nk;
  a.scale = p.softmax_scale;
  a.q_offset = p.q_offset, a.k_offset = p.k_offset;
  a.alibi_slopes = p.bias.alibi_slopes;
  a.alibi_distance_scale = p.bias.alibi_distance_scale;
  distance_range(p, &a.dist_min, &a.ndist);
  return a;
}

template <typename T>
void check_call(const AttentionParams<T>& p) {
  PELAB_CHECK(p.head_dim == 32 || p.head_dim == 64 || p.head_dim == 128,
              "CUDA attention supports head dims 32, 64 and 128, got " << p.head_dim,
              "use --device cpu for other head dims");
  PELAB_CHECK(is_device_pointer(p.q) && is_device_pointer(p.k) && is_device_pointer(p.v) && is_device_pointer(p.o) &&
                  is_device_pointer(p.lse),
              "CUDA attention needs q, k, v, o and lse in device memory", "allocate them with cudaMalloc");
  PELAB_CHECK(p.bias.kind != AttnBias::ALIBI || is_device_pointer(p.bias.alibi_slopes),
              "CUDA attention needs the ALiBi slopes in device memory", "copy bias.alibi_slopes to the device");
  PELAB_CHECK(!p.bias.learned() || is_device_pointer(p.bias.table),
              "CUDA attention needs the learned bias table in device memory", "copy bias.table to the device");
}

// The true bias of head h at distance dist_min + t, by the encodings' functors.
__global__ void bias_table_kernel(AttnBiasParams b, int heads, int64_t dist_min, int64_t ndist, float* out) {
  const int64_t total = heads * ndist;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int h = static_cast<int>(e / ndist);
    const double n = static_cast<double>(dist_min + e % ndist);
    float x = 0.0f;
    if (b.kind == AttnBias::T5) {
      x = T5Bias{b.table + static_cast<int64_t>(h) * b.t5_buckets, b.t5_buckets, b.t5_max_distance, b.t5_bidirectional}(n, 0.0);
    } else if (b.kind == AttnBias::KERPLE) {
      const float* abp = b.table + 3LL * h;
      x = KerpleBias{b.kerple_kind, abp[0], abp[1], abp[2]}(n, 0.0);
    }
    out[e] = x;
  }
}

// delta (B, H, Nq) = Σ_d dO·O per row: one warp per row, grid-stride over
// rows (the grid is capped at 65,535 blocks: B·H·Nq can exceed what it covers).
__global__ void delta_kernel(FlashCudaArgs a, float* delta, int head_dim) {
  const int lane = threadIdx.x % 32;
  const int64_t rows = static_cast<int64_t>(a.batch) * a.heads * a.nq;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps) {
    const int64_t i = row % a.nq, bh = row / a.nq;
    const int h = static_cast<int>(bh % a.heads), b = static_cast<int>(bh / a.heads);
    const float* o = a.o + b * a.o_batch_stride + i * a.o_row_stride + h * a.o_head_stride;
    const float* d = a.dout + b * a.o_batch_stride + i * a.o_row_stride + h * a.o_head_stride;
    float s = 0.0f;
    for (int c = lane; c < head_dim; c += 32) s = fmaf(o[c], d[c], s);
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) delta[row] = s;
  }
}

int blocks_for(int64_t n, int threads) { return static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535)); }

// Runtime sizes to template arguments, at the launch boundary only.
template <typename F>
void dispatch(int head_dim, int mode, bool causal, F&& f) {
  auto with_causal = [&](auto d, auto b) {
    if (causal) f(d, b, std::true_type{});
    else f(d, b, std::false_type{});
  };
  auto with_bias = [&](auto d) {
    if (mode == kBiasNone) with_causal(d, std::integral_constant<int, kBiasNone>{});
    else if (mode == kBiasAlibi) with_causal(d, std::integral_constant<int, kBiasAlibi>{});
    else with_causal(d, std::integral_constant<int, kBiasTable>{});
  };
  if (head_dim == 32) with_bias(std::integral_constant<int, 32>{});
  else if (head_dim == 64) with_bias(std::integral_constant<int, 64>{});
  else with_bias(std::integral_constant<int, 128>{});
}

// Builds the (H, ndist) bias table for a learned bias; empty otherwise.
template <typename T, typename U>
std::unique_ptr<DeviceBuffer<float>> bias_table(const AttentionParams<T>& p, FlashArgs<U>& a) {
  if (!p.bias.learned()) return nullptr;
  auto t = std::make_unique<DeviceBuffer<float>>(static_cast<size_t>(p.heads) * a.ndist);
  bias_table_kernel<<<blocks_for(p.heads * a.ndist, 256), 256>>>(p.bias, p.heads, a.dist_min, a.ndist, t->get());
  check(cudaGetLastError(), "the bias table kernel");
  a.bias_table = t->get();
  return t;
}

}  // namespace
}  // namespace cuda

void flash_forward_cuda(const AttentionParams<float>& p) {
  using namespace cuda;
  check_call(p);
  FlashCudaArgs a = make_args(p);
  const auto table = bias_table(p, a);
  dispatch(p.head_dim, bias_mode(p.bias), p.causal, [&](auto d, auto b, auto c) {
    flash_fp32_forward<decltype(d)::value, decltype(b)::value, decltype(c)::value>(a, nullptr);
  });
  check(cudaGetLastError(), "the flash forward launch");
  check(cudaDeviceSynchronize(), "the flash forward");
}

void flash_forward_cuda(const AttentionParams<bf16>& p) {
  using namespace cuda;
  check_call(p);
  PELAB_CHECK(p.head_dim != 32, "the bf16 tensor-core kernels support head dims 64 and 128, got 32",
              "use fp32 tensors for head dim 32");
  FlashArgs<__nv_bfloat16> a = make_args(p);
  const auto table = bias_table(p, a);
  dispatch(p.head_dim, bias_mode(p.bias), p.causal, [&](auto d, auto b, auto c) {
    if constexpr (decltype(d)::value != 32)
      flash_bf16_forward<decltype(d)::value, decltype(b)::value, decltype(c)::value>(a, nullptr);
  });
  check(cudaGetLastError(), "the bf16 flash forward launch");
  check(cudaDeviceSynchronize(), "the bf16 flash forward");
}

void flash_backward_cuda(const AttentionParams<float>& p, const AttentionGrads<float>& g) {
  using namespace cuda;
  check_call(p);
  PELAB_CHECK(is_device_pointer(g.dout) && is_device_pointer(g.dq) && is_device_pointer(g.dk) && is_device_pointer(g.dv),
              "CUDA attention backward needs dout, dq, dk and dv in device memory", "allocate them with cudaMalloc");
  PELAB_CHECK(!p.bias.learned() || is_device_pointer(g.dbias), "CUDA attention backward needs dbias in device memory",
              "allocate it with cudaMalloc");
  FlashCudaArgs a = make_args(p);
  a.dout = g.dout, a.dq = g.dq, a.dk = g.dk, a.dv = g.dv;  // float: make_args is the identity cast
  const auto table = bias_table(p, a);
  const int64_t rows = static_cast<int64_t>(p.batch) * p.heads * p.nq;
  DeviceBuffer<float> delta(rows);
  delta_kernel<<<blocks_for(rows * 32, 256), 256>>>(a, delta.get(), p.head_dim);
  check(cudaGetLastError(), "the delta kernel");
  a.delta = delta.get();
  std::unique_ptr<DeviceBuffer<double>> dtable;
  if (p.bias.learned()) {
    dtable = std::make_unique<DeviceBuffer<double>>(static_cast<size_t>(p.heads) * a.ndist);
    check(cudaMemset(dtable->get(), 0, dtable->size() * sizeof(double)), "cudaMemset");
    a.dbias_table = dtable->get();
  }
  dispatch(p.head_dim, bias_mode(p.bias), p.causal, [&](auto d, auto b, auto c) {
    flash_fp32_backward<decltype(d)::value, decltype(b)::value, decltype(c)::value>(a, nullptr);
  });
  check(cudaGetLastError(), "the flash backward launch");
  check(cudaDeviceSynchronize(), "the flash backward");
  if (!dtable) return;

  // Chain Σ dS by distance into the table's parameters on the host, with the
  // CPU kernels' rule (attn_bias_param_grad); the tables are small.
  const int64_t n = p.bias.table_size(p.heads);
  std::vector<double> by_dist(dtable->size());
  std::vector<float> table_host(n), dbias_host(n);
  check(cudaMemcpy(by_dist.data(), dtable->get(), by_dist.size() * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
  check(cudaMemcpy(table_host.data(), p.bias.table, n * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  check(cudaMemcpy(dbias_host.data(), g.dbias, n * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  AttnBiasParams hb = p.bias;
  hb.table = table_host.data();
  std::vector<double> grad(n, 0.0);
  for (int h = 0; h < p.heads; ++h)
    for (int64_t t = 0; t < a.ndist; ++t) {
      const double x = by_dist[h * a.ndist + t];
      if (x != 0.0) attn_bias_param_grad(hb, h, static_cast<double>(a.dist_min + t), x, grad.data());
    }
  for (int64_t e = 0; e < n; ++e) dbias_host[e] += static_cast<float>(grad[e]);
  check(cudaMemcpy(g.dbias, dbias_host.data(), n * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
}

}  // namespace pelab
