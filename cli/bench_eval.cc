// `pelab bench eval --config FILE.ini --lengths 256,4096,32768`: the
// evaluation forward (Transformer::evaluate, what `pelab eval` runs) of the
// configured model on random byte windows, per length: tokens/s, GFLOP/s by
// eval_flops (2·P per token + attention by the FlashAttention convention,
// causal halved), the ratio to the fp32 FMA peak measured in the same process,
// and the peak RSS while that length ran.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench/fma_peak.h"
#include "bench/memory.h"
#include "bench/report.h"
#include "build_info.h"
#include "cli/bench_common.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/rng.h"
#include "core/strings.h"
#include "experiments/eval.h"
#include "model/transformer.h"

namespace pelab::cli {

using bench_util::fmt;
using bench_util::mb;
using bench_util::positive_int;

int bench_eval(Context& ctx) {
  const ModelConfig cfg = model_config(ctx);
  PELAB_CHECK(ctx.has("lengths"), "missing --lengths", "e.g. pelab bench eval --config small.ini --lengths 256,4096");
  std::vector<int64_t> lengths;
  for (const auto& item : split(ctx.str("lengths"))) {
    const long long v = parse_int(item, "--lengths");
    PELAB_CHECK(v >= 1 && v <= (1LL << 24), "--lengths must be integers in [1, 16777216], got " << item, "e.g. --lengths 256,4096");
    lengths.push_back(v);
  }
  const long long batch_tokens = ctx.integer("batch-tokens");
  PELAB_CHECK(batch_tokens >= 1 && batch_tokens <= (1LL << 26), "--batch-tokens must be in [1, 67108864], got " << batch_tokens,
              "e.g. --batch-tokens 16384");
  const int threads = ctx.has("threads") ? positive_int(ctx, "threads", 1024, "2") : omp_get_max_threads();
  const double peak_time = ctx.number("peak-time");
  PELAB_CHECK(peak_time > 0 && peak_time <= 60, "--peak-time must be in (0, 60] seconds, got " << peak_time, "e.g. --peak-time 0.2");
  const double min_time = ctx.number("min-time");
  PELAB_CHECK(min_time >= 0 && min_time <= 600, "--min-time must be in [0, 600] seconds, got " << min_time, "e.g. --min-time 0.5");
  const bool json = ctx.flag("json");
  omp_set_num_threads(threads);
  for (int64_t L : lengths) {
    PELAB_CHECK(cfg.pe.kind != PeKind::LEARNED || L <= cfg.max_len,
                "--lengths " << L << " exceeds --model.max-len " << cfg.max_len, "learned positions end there");
    const int64_t B = std::max<int64_t>(1, batch_tokens / L);
    check_memory(Model::memory_bytes(cfg, B, L, /*training=*/false), "evaluating at " + std::to_string(L) + " tokens",
                 "lower --lengths or --batch-tokens");
  }

  Model model(cfg);
  const int64_t P = model.num_params();
  Rng rng(4242);
  if (!json)
    std::printf("pelab bench eval: --pe %s, d_model %d, %d layers, %d heads, %lld parameters; %d thread(s), revision %s\n"
                "%8s %6s %12s %10s %10s %8s %10s\n",
                to_string(cfg.pe.kind).c_str(), cfg.d_model, cfg.n_layers, cfg.n_heads, static_cast<long long>(P),
                threads, PELAB_GIT_REVISION, "seq", "batch", "tokens/s", "GFLOP/s", "peak", "ratio", "RSS MB");
  using Clock = std::chrono::steady_clock;
  for (int64_t L : lengths) {
    const int64_t B = std::max<int64_t>(1, batch_tokens / L);
    std::vector<int32_t> in(B * L), tg(B * L);
    for (int64_t i = 0; i < B * L; ++i) in[i] = static_cast<int32_t>(rng.below(256));
    for (int64_t i = 0; i < B * L; ++i) tg[i] = i + 1 < B * L ? in[i + 1] : 0;
    bench::RssWindow rss;
    const bench::FmaPeak peak_before = bench::measure_fma_peak(threads, peak_time);
    model.evaluate(in.data(), tg.data(), static_cast<int>(B), static_cast<int>(L));  // warm-up
    double best = 1e300, total = 0;
    int runs = 0;
    while (runs < 1 || total < min_time) {
      const auto t0 = Clock::now();
      model.evaluate(in.data(), tg.data(), static_cast<int>(B), static_cast<int>(L));
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      best = std::min(best, dt);
      total += dt;
      ++runs;
    }
    const bench::FmaPeak peak_after = bench::measure_fma_peak(threads, peak_time);
    const double peak = std::max(peak_before.gflops, peak_after.gflops);
    const double flops = static_cast<double>(B) * eval_flops(cfg, P, L);
    const double gflops = flops / best / 1e9;
    const double tps = static_cast<double>(B * L) / best;
    const int64_t rss_bytes = rss.valid() ? rss.peak_bytes() : bench::peak_rss_bytes();
    if (json) {
      bench::JsonLine j;
      j.str("topic", "eval")
          .str("pe", to_string(cfg.pe.kind))
          .integer("d_model", cfg.d_model)
          .integer("n_layers", cfg.n_layers)
          .integer("params", P)
          .integer("seq", L)
          .integer("batch", B)
          .integer("runs", runs)
          .num("seconds", best)
          .num("tokens_per_s", tps)
          .num("flops_per_run", flops)
          .num("gflops", gflops)
          .num("peak_gflops", peak)
          .num("ratio_to_peak", gflops / peak)
          .integer("peak_rss_bytes", rss_bytes)
          .integer("threads", threads)
          .str("fma_isa", peak_before.isa)
          .str("revision", PELAB_GIT_REVISION);
      std::printf("%s\n", j.text().c_str());
    } else {
      std::printf("%8lld %6lld %12.0f %10.1f %10.1f %7.1f%% %10s\n", static_cast<long long>(L), static_cast<long long>(B),
                  tps, gflops, peak, 100.0 * gflops / peak, mb(rss_bytes).c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace pelab::cli
