// `pelab bench attention --device cuda`: the CUDA path, called from bench_attention.cc.
// The CUDA kernels (fp32) on device copies of the same inputs: first checked
// against the fp64 oracle at N = check_seq, then timed. Each call synchronizes,
// so wall time is kernel time plus launch overhead. No GPU peak is measured yet:
// the ratio columns are null.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <type_traits>
#include <vector>

#include "attention/attention.h"
#include "bench/report.h"
#include "build_info.h"
#include "core/bf16.h"
#include "core/device.h"
#include "core/error.h"
#include "cli/bench_attention.h"

namespace pelab::cli::attention_bench {

namespace {

using bench::JsonLine;
using bench::Timing;

// Tolerance of the bf16 kernel's check: outputs rounded to bf16 (2^-9 relative on
// |O| <~ 3) plus P rounded to bf16 before P·V; observed errors of a plain bf16
// implementation on unit-variance inputs are ~1e-2 at most.
constexpr double kTolOutBf16 = 3e-2;

template <typename T>
std::vector<T> as(const std::vector<float>& x) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    std::vector<T> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = to_bf16(x[i]);
    return y;
  }
}
template <typename T>
std::vector<double> as_double(const std::vector<T>& x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) y[i] = x[i];
    else y[i] = to_float(x[i]);
  }
  return y;
}

// Device copies of one case's tensors; T = float or bf16 (bf16: forward only).
template <typename T>
struct DeviceTensors {
  DeviceArray<T> q, k, v, o, dout, dq, dk, dv;
  DeviceArray<float> lse, slopes;
  DeviceTensors(const AttnTensors<float>& t, const std::vector<float>& host_slopes, bool backward)
      : q(as<T>(t.q)), k(as<T>(t.k)), v(as<T>(t.v)), o(t.q.size()), lse(t.lse.size()), slopes(host_slopes) {
    if (backward) {
      dout = DeviceArray<T>(as<T>(t.dout));
      dq = DeviceArray<T>(t.q.size());
      dk = DeviceArray<T>(t.k.size());
      dv = DeviceArray<T>(t.v.size());
    }
  }
  AttentionParams<T> params(const AttnCase& c) const {
    auto p = AttentionParams<T>::dense(q.get(), k.get(), v.get(), o.get(), lse.get(), c.batch, c.seq, c.seq, c.heads,
                                       c.head_dim, c.causal);
    p.bias.kind = c.pe;
    if (c.pe == AttnBias::ALIBI) p.bias.alibi_slopes = slopes.get();
    return p;
  }
  AttentionGrads<T> grads() const { return {dout.get(), dq.get(), dk.get(), dv.get(), nullptr}; }
};

template <typename T>
CheckResult check_cuda(AttnCase c, int check_seq, bool backward) {
  c.seq = check_seq;
  c.batch = 1;
  const std::vector<float> slopes = alibi_slopes(c.heads);
  AttnTensors<float> f;
  f.alloc_forward(c);
  if (backward) f.alloc_backward(c);
  const DeviceTensors<T> d(f, slopes, backward);
  attention_forward(d.params(c), AttnImpl::FLASH, AttnDevice::CUDA);
  // The oracle sees the values the kernel saw (rounded to bf16 for bf16).
  AttnTensors<double> r;
  r.q = as_double(as<T>(f.q));
  r.k = as_double(as<T>(f.k));
  r.v = as_double(as<T>(f.v));
  r.o.assign(f.q.size(), 0.0);
  r.lse.assign(f.lse.size(), 0.0f);
  const AttentionParams<double> pr = r.params(c, slopes);
  attention_forward(pr, AttnImpl::NAIVE);
  CheckResult res;
  res.seq = check_seq;
  res.err_out = max_abs_diff(as_double(d.o.to_host()), r.o);
  const double tol = std::is_same_v<T, float> ? kTolOut : kTolOutBf16;
  PELAB_CHECK(res.err_out <= tol, "CUDA flash attention disagrees with the naive oracle at N=" << check_seq << ": max |O err| "
                                                                                            << res.err_out << " > " << tol,
              "the CUDA kernel is wrong for this case; nothing was timed");
  if constexpr (std::is_same_v<T, float>) {
    if (backward) {
      attention_backward(d.params(c), d.grads(), AttnImpl::FLASH, AttnDevice::CUDA);
      r.dout.assign(f.dout.begin(), f.dout.end());
      r.dq.assign(f.q.size(), 0.0);
      r.dk.assign(f.k.size(), 0.0);
      r.dv.assign(f.v.size(), 0.0);
      attention_backward(pr, r.grads(), AttnImpl::NAIVE);
      res.err_grad = std::max({max_abs_diff(d.dq.to_host(), r.dq), max_abs_diff(d.dk.to_host(), r.dk),
                               max_abs_diff(d.dv.to_host(), r.dv)});
      PELAB_CHECK(res.err_grad <= kTolGrad, "CUDA flash attention backward disagrees with the naive oracle at N="
                                                << check_seq << ": max |dQ,dK,dV err| " << res.err_grad << " > " << kTolGrad,
                  "the CUDA backward is wrong for this case; nothing was timed");
    }
  }
  return res;
}

}  // namespace

template <typename T>
int bench_attention_cuda(const AttnOptions& a) {
  const char* dtype = std::is_same_v<T, float> ? "fp32" : "bf16";
  const DeviceReport dev = query_devices();
  PELAB_CHECK(dev.cuda_devices > 0, "--device cuda: " << (dev.status.empty() ? "no CUDA device" : dev.status),
              "run on a machine with an NVIDIA GPU and a cuda-preset build, or use --device cpu");
  std::vector<CheckResult> checks;
  for (const AttnCase& v : a.variants) checks.push_back(check_cuda<T>(v, a.check_seq, a.backward));
  if (!a.json) {
    double eo = 0, eg = -1;
    for (const auto& c : checks) eo = std::max(eo, c.err_out), eg = std::max(eg, c.err_grad);
    std::printf("pelab bench attention: CUDA %s flash kernels on %s, revision %s\n", dtype, dev.names[0].c_str(), PELAB_GIT_REVISION);
    std::printf("check: CUDA flash vs naive (fp64, CPU) at N=%d, B=1: max |O err| %.2e (tol %.0e)", a.check_seq, eo,
                std::is_same_v<T, float> ? kTolOut : kTolOutBf16);
    if (eg >= 0) std::printf(", max |dQ,dK,dV err| %.2e (tol %.0e)", eg, kTolGrad);
    std::printf("\nTFLOP/s by the FlashAttention-2 convention (causal halved, backward 2.5x forward); each call synchronizes\n");
    std::printf("%-8s %6s %4s %4s %3s %-6s %-5s %10s %9s\n", "pass", "N", "D", "H", "B", "causal", "pe", "seconds", "TFLOP/s");
  }
  const std::vector<float> slopes = alibi_slopes(a.base.heads);
  for (int n : a.seqs) {
    AttnCase shape = a.base;
    shape.seq = n;
    AttnTensors<float> t;
    t.alloc_forward(shape);
    if (a.backward) t.alloc_backward(shape);
    const DeviceTensors<T> d(t, slopes, a.backward);
    std::vector<AttnCase> cases;
    std::vector<std::function<void()>> fwd, bwd;
    for (AttnCase c : a.variants) {
      c.seq = n;
      cases.push_back(c);
    }
    for (const AttnCase& c : cases) {
      fwd.push_back([&d, c] { attention_forward(d.params(c), AttnImpl::FLASH, AttnDevice::CUDA); });
      bwd.push_back([&d, c] { attention_backward(d.params(c), d.grads(), AttnImpl::FLASH, AttnDevice::CUDA); });
    }
    for (auto& f : fwd) f();
    const std::vector<Timing> tf = bench::time_best_interleaved(fwd, a.min_time, a.min_repeats);
    std::vector<Timing> tb;
    if (a.backward) {
      // Each backward reads the O and LSE of the last forward, whichever variant ran it: the
      // timing is right, the values are those of another mask or bias (the check above covers values).
      for (auto& f : bwd) f();
      tb = bench::time_best_interleaved(bwd, a.min_time, a.min_repeats);
    }
    for (size_t i = 0; i < cases.size(); ++i)
      for (int pass = 0; pass < (a.backward ? 2 : 1); ++pass) {
        const AttnCase& c = cases[i];
        const Timing& tm = pass ? tb[i] : tf[i];
        const double flops = attn_flops(c, pass == 1), tflops = flops / tm.best / 1e12;
        if (a.json) {
          JsonLine j;
          j.str("topic", "attention").str("impl", "flash").str("device", "cuda").str("dtype", dtype)
              .integer("seq", c.seq).integer("head_dim", c.head_dim).integer("heads", c.heads).integer("batch", c.batch)
              .boolean("causal", c.causal).str("pe", pe_name(c.pe)).str("pass", pass ? "backward" : "forward")
              .num("flops", flops).num("seconds", tm.best).num("tflops", tflops).num("gflops", tflops * 1e3)
              .null("peak_gflops").null("ratio_to_peak").null("ratio_to_naive").integer("repeats", tm.repeats)
              .str("gpu", dev.names[0]).integer("check_seq", checks[i].seq).num("check_max_err_o", checks[i].err_out)
              .str("revision", PELAB_GIT_REVISION);
          std::printf("%s\n", j.text().c_str());
        } else {
          std::printf("%-8s %6d %4d %4d %3d %-6s %-5s %10.6f %9.2f\n", pass ? "backward" : "forward", c.seq, c.head_dim,
                      c.heads, c.batch, c.causal ? "yes" : "no", pe_name(c.pe), tm.best, tflops);
        }
      }
    std::fflush(stdout);
  }
  return 0;
}

template int bench_attention_cuda<float>(const AttnOptions& a);
template int bench_attention_cuda<bf16>(const AttnOptions& a);

}  // namespace pelab::cli::attention_bench
