// `pelab bench attention`: the CPU attention kernels (flash or naive), as
// GFLOP/s by the FlashAttention-2 convention and ratios to the FMA peak and
// the naive path measured in the same process.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "bench/fma_peak.h"
#include "bench/memory.h"
#include "bench/report.h"
#include "build_info.h"
#include "core/bf16.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/strings.h"
#include "cli/bench_attention.h"
#include "cli/bench_common.h"

namespace pelab::cli {

namespace attention_bench {
namespace {

using bench::JsonLine;
using bench::Timing;
using bench_util::fmt;
using bench_util::mb;
using bench_util::positive_int;

constexpr double kGB = 1e9;

// Bytes the naive path's scores would take by the benchmark's rule: B·H·N²·8·3.
double naive_bytes(const AttnCase& c) { return 24.0 * c.batch * c.heads * static_cast<double>(c.seq) * c.seq; }

// Rough resident bytes of a flash run: inputs, outputs, packed K (and V),
// per-thread dQ copies in the backward.
double flash_bytes(const AttnCase& c, bool backward, int threads) {
  const double x = 4.0 * c.elements();
  double b = 5.0 * x + 4.0 * c.batch * c.heads * static_cast<double>(c.seq);
  if (backward) b += (5.0 + threads) * x;
  return b;
}

// Flash (fp32) against the naive oracle in fp64 on the same inputs (rounded to
// fp32), at N = check_seq and B = 1 with the case's D, H, mask and bias.
CheckResult check_flash(AttnCase c, int check_seq, bool backward) {
  c.seq = check_seq;
  c.batch = 1;
  const std::vector<float> slopes = alibi_slopes(c.heads);
  AttnTensors<float> f;
  f.alloc_forward(c);
  if (backward) f.alloc_backward(c);
  AttnTensors<double> d;
  d.q.assign(f.q.begin(), f.q.end());
  d.k.assign(f.k.begin(), f.k.end());
  d.v.assign(f.v.begin(), f.v.end());
  d.o.assign(f.o.size(), 0.0);
  d.lse.assign(f.lse.size(), 0.0f);
  const AttentionParams<float> pf = f.params(c, slopes);
  const AttentionParams<double> pd = d.params(c, slopes);
  attention_forward(pf, AttnImpl::FLASH);
  attention_forward(pd, AttnImpl::NAIVE);

  CheckResult r;
  r.seq = check_seq;
  r.err_out = max_abs_diff(f.o, d.o);
  const std::string what = std::string("N=") + std::to_string(check_seq) + ", D=" + std::to_string(c.head_dim) +
                           ", H=" + std::to_string(c.heads) + (c.causal ? ", causal" : "") + ", pe " + pe_name(c.pe);
  PELAB_CHECK(r.err_out <= kTolOut,
              "flash attention disagrees with the naive oracle (" << what << "): max |O_flash - O_naive| = " << r.err_out
                                                                  << " > " << kTolOut,
              "the flash kernel is wrong for this case; nothing was timed");
  if (backward) {
    d.dout.assign(f.dout.begin(), f.dout.end());
    d.dq.assign(f.dq.size(), 0.0);
    d.dk.assign(f.dk.size(), 0.0);
    d.dv.assign(f.dv.size(), 0.0);
    attention_backward(pf, f.grads(), AttnImpl::FLASH);
    attention_backward(pd, d.grads(), AttnImpl::NAIVE);
    const double eq = max_abs_diff(f.dq, d.dq), ek = max_abs_diff(f.dk, d.dk), ev = max_abs_diff(f.dv, d.dv);
    r.err_grad = std::max({eq, ek, ev});
    if (std::isnan(eq) || std::isnan(ek) || std::isnan(ev)) r.err_grad = NAN;
    PELAB_CHECK(r.err_grad <= kTolGrad,
                "flash attention backward disagrees with the naive oracle (" << what << "): max |dQ| err " << eq
                    << ", |dK| err " << ek << ", |dV| err " << ev << " (tolerance " << kTolGrad << ")",
                "the flash backward is wrong for this case; nothing was timed");
  }
  return r;
}

AttnOptions attention_options(Context& ctx) {
  AttnOptions a;
  PELAB_CHECK(ctx.has("seq"), "missing --seq", "e.g. pelab bench attention --seq 1024,2048,4096 --head-dim 64");
  for (const auto& item : ctx.list("seq")) {
    const long long n = parse_int(item, "--seq");
    PELAB_CHECK(n >= 1 && n <= (1 << 22), "--seq must be in [1, 4194304], got " << n, "e.g. --seq 1024,2048,4096");
    a.seqs.push_back(static_cast<int>(n));
  }
  a.base.head_dim = positive_int(ctx, "head-dim", 1024, "64");
  a.base.heads = positive_int(ctx, "heads", 4096, "8");
  a.base.batch = positive_int(ctx, "batch", 65536, "1");

  std::vector<bool> masks;
  if (ctx.has("mask")) {
    PELAB_CHECK(!ctx.flag("causal"), "give either --causal or --mask, not both", "--causal is short for --mask causal");
    for (const auto& m : ctx.list("mask")) {
      PELAB_CHECK(m == "none" || m == "causal", "unknown --mask '" << m << "'", "choose none, causal or none,causal");
      masks.push_back(m == "causal");
    }
  } else {
    masks.push_back(ctx.flag("causal"));
  }
  std::vector<AttnBias> pes;
  for (const auto& pe : ctx.list("pe")) {
    if (pe == "none") pes.push_back(AttnBias::NONE);
    else if (pe == "alibi") pes.push_back(AttnBias::ALIBI);
    else PELAB_FAIL("unknown --pe '" << pe << "' for pelab bench attention", "choose none, alibi or none,alibi");
  }
  for (bool causal : masks)
    for (AttnBias pe : pes) {
      AttnCase c = a.base;
      c.causal = causal;
      c.pe = pe;
      for (const auto& v : a.variants)
        PELAB_CHECK(v.causal != causal || v.pe != pe, "--mask and --pe list the same variant twice",
                    "give each value once, e.g. --pe none,alibi");
      a.variants.push_back(c);
    }

  const std::string impl = ctx.str("impl");
  PELAB_CHECK(impl == "flash" || impl == "naive", "unknown --impl '" << impl << "'", "choose flash or naive");
  a.impl = parse_attn_impl(impl.c_str());
  a.backward = ctx.flag("backward");
  a.json = ctx.flag("json");
  a.threads = ctx.has("threads") ? positive_int(ctx, "threads", 1024, "2") : omp_get_max_threads();
  a.min_time = ctx.number("min-time");
  PELAB_CHECK(a.min_time >= 0 && a.min_time <= 3600, "--min-time must be in [0, 3600] seconds, got " << a.min_time, "e.g. --min-time 0.5");
  a.min_repeats = positive_int(ctx, "min-repeats", 1000, "3");
  a.naive_limit_gb = ctx.number("naive-limit-gb");
  PELAB_CHECK(a.naive_limit_gb >= 0, "--naive-limit-gb must be >= 0, got " << a.naive_limit_gb, "0 skips the naive baseline");
  a.check_seq = positive_int(ctx, "check-seq", 4096, "200");
  const std::string device = ctx.str("device");
  PELAB_CHECK(device == "cpu" || device == "cuda", "unknown --device '" << device << "'", "choose cpu or cuda");
  a.device = device == "cuda" ? AttnDevice::CUDA : AttnDevice::CPU;
  PELAB_CHECK(a.device == AttnDevice::CPU || a.impl == AttnImpl::FLASH, "--impl naive runs on the CPU only",
              "use --impl flash with --device cuda");
  const std::string dtype = ctx.str("dtype");
  PELAB_CHECK(dtype == "fp32" || dtype == "bf16", "unknown --dtype '" << dtype << "'", "choose fp32 or bf16");
  a.bf16 = dtype == "bf16";
  PELAB_CHECK(!a.bf16 || a.device == AttnDevice::CUDA, "--dtype bf16 runs on CUDA only", "add --device cuda, or use fp32");
  PELAB_CHECK(!a.bf16 || !a.backward, "the bf16 backward is not built yet", "drop --backward, or use --dtype fp32");
  a.peak_time = ctx.number("peak-time");
  PELAB_CHECK(a.peak_time > 0 && a.peak_time <= 60, "--peak-time must be in (0, 60] seconds, got " << a.peak_time, "e.g. --peak-time 0.2");
  return a;
}

// One measured pass (forward or backward) of one variant at one N.
struct PassResult {
  const char* pass = "forward";
  double flops = 0;
  Timing t;
  bool has_naive = false;
  Timing naive;
  int64_t impl_peak_rss = -1, call_increase = -1;  // during the warm-up call
};

// The FMA peak around one N: measured before and after its timings.
struct PeakPair {
  bench::FmaPeak before, after;
  double best() const { return std::max(before.gflops, after.gflops); }
  double low() const { return std::min(before.gflops, after.gflops); }
  double best_cpu() const { return std::max(before.cpu_gflops, after.cpu_gflops); }
};


void print_json(const AttnOptions& a, const AttnCase& c, const PeakPair& peak, const CheckResult& chk,
                const PassResult& r, bool hwm_ok) {
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const double gflops = r.flops / r.t.best / 1e9;
  JsonLine j;
  j.str("topic", "attention")
      .str("impl", to_string(a.impl))
      .integer("seq", c.seq)
      .integer("head_dim", c.head_dim)
      .integer("heads", c.heads)
      .integer("batch", c.batch)
      .boolean("causal", c.causal)
      .str("pe", pe_name(c.pe))
      .str("pass", r.pass)
      .num("flops", r.flops)
      .num("gflops", gflops)
      .num("peak_gflops", peak.best())
      .num("peak_gflops_low", peak.low())
      .num("ratio_to_peak", gflops / peak.best())
      .num("seconds", r.t.best)
      .integer("repeats", r.t.repeats)
      .integer("variants", static_cast<int64_t>(a.variants.size()));
  // The same on CPU time (process CPU seconds / threads): what the rate would
  // be without other processes taking turns on the cores.
  const double cpu_seconds = r.t.best_cpu / a.threads, gflops_cpu = r.flops / cpu_seconds / 1e9;
  j.num("cpu_seconds", cpu_seconds)
      .num("gflops_cpu", gflops_cpu)
      .num("peak_gflops_cpu", peak.best_cpu())
      .num("ratio_to_peak_cpu", gflops_cpu / peak.best_cpu());
  if (r.has_naive)
    j.num("naive_seconds", r.naive.best)
        .num("ratio_to_naive", r.naive.best / r.t.best)
        .num("ratio_to_naive_cpu", r.naive.best_cpu / r.t.best_cpu);
  else j.null("naive_seconds").null("ratio_to_naive").null("ratio_to_naive_cpu");
  j.integer("peak_rss_bytes", bench::peak_rss_bytes());
  if (hwm_ok) j.integer("impl_peak_rss_bytes", r.impl_peak_rss).integer("call_rss_increase_bytes", r.call_increase);
  else j.null("impl_peak_rss_bytes").null("call_rss_increase_bytes");
  j.boolean("rss_hwm_reset", hwm_ok).integer("threads", a.threads);
  if (coretype) j.str("openblas_coretype", coretype);
  else j.null("openblas_coretype");
  j.str("fma_isa", peak.before.isa)
      .integer("check_seq", chk.seq)
      .num("check_max_err_o", chk.err_out)
      .num("check_tol_o", kTolOut);
  if (chk.err_grad >= 0) j.num("check_max_err_grad", chk.err_grad).num("check_tol_grad", kTolGrad);
  else j.null("check_max_err_grad").null("check_tol_grad");
  j.num("min_time", a.min_time).integer("min_repeats", a.min_repeats).str("revision", PELAB_GIT_REVISION);
  std::printf("%s\n", j.text().c_str());
}

void print_row(const AttnOptions& a, const AttnCase& c, const PeakPair& peak, const PassResult& r) {
  const double gflops = r.flops / r.t.best / 1e9;
  const double cpu_ratio = r.flops / (r.t.best_cpu / a.threads) / 1e9 / peak.best_cpu();
  std::printf("%-8s %6d %4d %4d %3d %-6s %-5s %-5s %10.4f %8.1f %6.1f %6.1f%% %6.1f%% %10s %7s %9s %9s\n", r.pass, c.seq,
              c.head_dim, c.heads, c.batch, c.causal ? "yes" : "no", pe_name(c.pe), to_string(a.impl), r.t.best, gflops,
              peak.best(), 100.0 * gflops / peak.best(), 100.0 * cpu_ratio, r.has_naive ? fmt("%.4f", r.naive.best).c_str() : "-",
              r.has_naive ? fmt("%.2f", r.naive.best / r.t.best).c_str() : "-", mb(r.impl_peak_rss).c_str(),
              mb(r.call_increase).c_str());
}

// Runs f once inside an RSS window: the warm-up call, whose allocations are
// the ones every later call repeats.
template <typename F>
void warm_up(F&& f, PassResult& r) {
  bench::RssWindow w;
  f();
  r.impl_peak_rss = w.peak_bytes();
  r.call_increase = w.increase_bytes();
}

}  // namespace
}  // namespace attention_bench

int bench_attention(Context& ctx) {
  using namespace attention_bench;
  const AttnOptions a = attention_options(ctx);
  if (a.device == AttnDevice::CUDA) return a.bf16 ? bench_attention_cuda<bf16>(a) : bench_attention_cuda<float>(a);
  omp_set_num_threads(a.threads);
  const size_t nv = a.variants.size();

  const int64_t avail = mem_available_bytes();
  const double limit = a.naive_limit_gb * kGB;
  for (int n : a.seqs) {
    AttnCase c = a.base;
    c.seq = n;
    if (a.impl == AttnImpl::NAIVE)
      PELAB_CHECK(naive_bytes(c) < limit,
                  "naive attention at N=" << n << " would materialize about " << fmt("%.1f", naive_bytes(c) / kGB)
                                          << " GB of scores (B*H*N^2*8 bytes*3), above --naive-limit-gb " << a.naive_limit_gb,
                  "use --impl flash, or raise --naive-limit-gb");
    // Each variant keeps its own O (and lse): one more tensor per extra variant.
    const double need = flash_bytes(c, a.backward, a.threads) + (nv - 1) * 4.0 * c.elements();
    PELAB_CHECK(avail < 0 || need < 0.9 * static_cast<double>(avail),
                "N=" << n << " needs about " << fmt("%.1f", need / kGB) << " GB for inputs, outputs and workspace, but only "
                     << fmt("%.1f", static_cast<double>(avail) / kGB) << " GB is available",
                "lower --seq, --batch or --heads");
  }

  std::vector<CheckResult> checks;
  for (const AttnCase& v : a.variants) checks.push_back(check_flash(v, a.check_seq, a.backward));
  const bool hwm_ok = bench::reset_rss_high_water_mark();

  if (!a.json) {
    double err_o = 0, err_g = -1;
    for (const auto& c : checks) {
      err_o = std::max(err_o, c.err_out);
      err_g = std::max(err_g, c.err_grad);
    }
    std::printf("pelab bench attention: fp32, %d thread(s), OPENBLAS_CORETYPE=%s, revision %s\n", a.threads,
                std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)", PELAB_GIT_REVISION);
    std::printf("check: flash vs naive (fp64) at N=%d, B=1: max |O err| %.2e (tol %.0e)", a.check_seq, err_o, kTolOut);
    if (err_g >= 0) std::printf(", max |dQ,dK,dV err| %.2e (tol %.0e)", err_g, kTolGrad);
    std::printf("\nGFLOP/s by the FlashAttention-2 convention; peak = register-only FMA loop, best of the runs before\n"
                "and after each N; %zu variant(s) timed interleaved; naive timed while B*H*N^2*8 B*3 < %g GB;\n"
                "%%pk_cpu = the same ratio on process CPU time / threads (ignores time other processes held the\n"
                "cores); RSS_MB = peak RSS in the %s's first call (inputs included), dRSS_MB = its increase%s\n",
                nv, a.naive_limit_gb, to_string(a.impl), hwm_ok ? "" : " (VmHWM reset unavailable: not measured)");
    std::printf("%-8s %6s %4s %4s %3s %-6s %-5s %-5s %10s %8s %6s %7s %7s %10s %7s %9s %9s\n", "pass", "N", "D", "H", "B",
                "causal", "pe", "impl", "seconds", "GFLOP/s", "peak", "%peak", "%pk_cpu", "naive_s", "x_naive", "RSS_MB",
                "dRSS_MB");
    std::fflush(stdout);
  }

  const std::vector<float> slopes = alibi_slopes(a.base.heads);
  bench::FmaPeak last_peak;
  for (int n : a.seqs) {
    PeakPair peak;
    peak.before = bench::measure_fma_peak(a.threads, a.peak_time);

    // Inputs shared by every variant; O and lse per variant (the backward reads them).
    AttnCase shape = a.base;
    shape.seq = n;
    AttnTensors<float> t;
    t.alloc_forward(shape);
    std::vector<AttnCase> cases(nv);
    std::vector<std::vector<float>> outs(nv), lses(nv);
    std::vector<AttentionParams<float>> params(nv);
    for (size_t i = 0; i < nv; ++i) {
      cases[i] = a.variants[i];
      cases[i].seq = n;
      outs[i].assign(shape.elements(), 0.0f);
      lses[i].assign(t.lse.size(), 0.0f);
      params[i] = t.params(cases[i], slopes);
      params[i].o = outs[i].data();
      params[i].lse = lses[i].data();
    }
    t.o.clear();
    t.o.shrink_to_fit();
    t.lse.clear();
    t.lse.shrink_to_fit();

    std::vector<PassResult> fwd(nv), bwd(nv);
    std::vector<std::function<void()>> runs;
    for (size_t i = 0; i < nv; ++i) {
      fwd[i].flops = attn_flops(cases[i], false);
      bwd[i].pass = "backward";
      bwd[i].flops = attn_flops(cases[i], true);
      runs.push_back([&, i] { attention_forward(params[i], a.impl); });
      warm_up(runs.back(), fwd[i]);
    }
    std::vector<Timing> tf = bench::time_best_interleaved(runs, a.min_time, a.min_repeats);
    for (size_t i = 0; i < nv; ++i) fwd[i].t = tf[i];

    AttentionGrads<float> g;
    if (a.backward) {
      t.alloc_backward(shape);
      g = t.grads();
      // Each variant's O and lse are those of its last timed forward.
      runs.clear();
      for (size_t i = 0; i < nv; ++i) {
        runs.push_back([&, i] { attention_backward(params[i], g, a.impl); });
        warm_up(runs.back(), bwd[i]);
      }
      std::vector<Timing> tb = bench::time_best_interleaved(runs, a.min_time, a.min_repeats);
      for (size_t i = 0; i < nv; ++i) bwd[i].t = tb[i];
    }

    for (size_t i = 0; i < nv; ++i) {
      if (a.impl == AttnImpl::NAIVE) {
        fwd[i].has_naive = bwd[i].has_naive = true;
        fwd[i].naive = fwd[i].t;
        bwd[i].naive = bwd[i].t;
      } else if (naive_bytes(shape) < limit) {
        // The baseline: not interleaved (it is far slower), same inputs.
        fwd[i].has_naive = true;
        fwd[i].naive = bench::time_best([&] { attention_forward(params[i], AttnImpl::NAIVE); }, a.min_time, a.min_repeats);
        if (a.backward) {
          bwd[i].has_naive = true;
          bwd[i].naive = bench::time_best([&] { attention_backward(params[i], g, AttnImpl::NAIVE); }, a.min_time, a.min_repeats);
        }
      }
    }
    peak.after = bench::measure_fma_peak(a.threads, a.peak_time);
    last_peak = peak.after;

    for (size_t i = 0; i < nv; ++i)
      for (const PassResult* r : {&fwd[i], &bwd[i]}) {
        if (r == &bwd[i] && !a.backward) continue;
        if (a.json) print_json(a, cases[i], peak, checks[i], *r, hwm_ok);
        else print_row(a, cases[i], peak, *r);
      }
    std::fflush(stdout);
  }
  if (!a.json)
    std::printf("process peak RSS %s MB; FMA peak loop: %s, %d chains/thread, best of %d x %.2f s\n",
                mb(bench::peak_rss_bytes()).c_str(), last_peak.isa.c_str(), last_peak.chains, last_peak.trials,
                last_peak.trial_seconds);
  return 0;
}

}  // namespace pelab::cli
