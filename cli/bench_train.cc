// `pelab bench train --config FILE.ini`: optimizer steps of the configured
// model (forward, backward, clipping, AdamW) on random byte windows, reported
// as tokens/s and model FLOP utilisation against the fp32 FMA peak measured
// in the same process, with the step's time split into matrix products,
// attention and the rest (model/phase_timer.h).
//
// Model FLOPs per token (reference/performance.md §1, PaLM App. B, nanoGPT
// estimate_mfu): 6·P + 12·L·C·T, P = parameters without a learned position
// table, attention not halved for the causal mask. The matrix-product and
// attention rates divide the FLOPs those phases really execute (the tied head
// included; attention by the FlashAttention-2 convention, causal halved,
// backward 2.5x forward) by their measured time.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/fma_peak.h"
#include "bench/memory.h"
#include "bench/report.h"
#include "build_info.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/rng.h"
#include "cli/bench_common.h"
#include "cli/options.h"
#include "model/optimizer.h"
#include "model/phase_timer.h"
#include "model/transformer.h"

namespace pelab::cli {

namespace {

using bench_util::fmt;
using bench_util::mb;
using bench_util::positive_int;

struct StepFlops {
  double model = 0;      // 6·P + 12·L·C·T per token, times tokens
  double matmul = 0;     // executed by the linear layers and the head, forward + backward
  double attention = 0;  // executed by the attention kernel, forward + backward
};

StepFlops step_flops(const ModelConfig& c, int64_t params, int64_t B, int64_t T) {
  const double tokens = static_cast<double>(B) * T;
  const double L = c.n_layers, C = c.d_model, F = c.hidden(), V = c.vocab;
  const double wpe = c.pe.kind == PeKind::LEARNED ? static_cast<double>(c.max_len) * C : 0.0;
  StepFlops f;
  f.model = tokens * (6.0 * (static_cast<double>(params) - wpe) + 12.0 * L * C * static_cast<double>(T));
  const double proj = c.qk_proj ? 4.0 : 2.0;  // Wq, Wk, Wv, Wo (or Wv, Wo)
  f.matmul = 6.0 * tokens * (L * (proj * C * C + 2.0 * C * F) + C * V);
  // FA2: forward 4·T²·C per sequence and layer, halved when causal; backward 2.5x.
  f.attention = 3.5 * L * static_cast<double>(B) * 4.0 * static_cast<double>(T) * T * C / 2.0;
  return f;
}

// Random byte windows: throughput does not depend on the text.
struct RandomBatches {
  Rng rng{12345};
  std::vector<int32_t> inputs, targets;
  void next(int64_t B, int64_t T) {
    inputs.resize(B * T);
    targets.resize(B * T);
    for (int64_t r = 0; r < B; ++r) {
      int32_t prev = static_cast<int32_t>(rng.below(256));
      for (int64_t t = 0; t < T; ++t) {
        const auto x = static_cast<int32_t>(rng.below(256));
        inputs[r * T + t] = prev;
        targets[r * T + t] = x;
        prev = x;
      }
    }
  }
};

}  // namespace

int bench_train(Context& ctx) {
  const ModelConfig cfg = model_config(ctx);
  const TrainOptions t = train_options(ctx);
  PELAB_CHECK(ctx.str("impl") == "flash" || ctx.str("impl") == "naive", "unknown --impl '" << ctx.str("impl") << "'",
              "choose flash or naive");
  const AttnImpl impl = parse_attn_impl(ctx.str("impl").c_str());
  const int threads = ctx.has("threads") ? positive_int(ctx, "threads", 1024, "2") : omp_get_max_threads();
  const int steps = positive_int(ctx, "steps", 100000, "10");
  const long long warmup = ctx.integer("warmup-steps");
  PELAB_CHECK(warmup >= 0 && warmup <= 1000, "--warmup-steps must be in [0, 1000], got " << warmup, "e.g. --warmup-steps 2");
  const double peak_time = ctx.number("peak-time");
  PELAB_CHECK(peak_time > 0 && peak_time <= 60, "--peak-time must be in (0, 60] seconds, got " << peak_time,
              "e.g. --peak-time 0.2");
  const bool json = ctx.flag("json");
  omp_set_num_threads(threads);

  const int64_t B = t.batch, T = t.length;
  PELAB_CHECK(cfg.pe.kind != PeKind::LEARNED || T <= cfg.max_len,
              "--train.length " << T << " exceeds --model.max-len " << cfg.max_len, "raise --model.max-len");
  check_memory(Model::memory_bytes(cfg, B, T, /*training=*/true), "this model config with its batch",
               "lower --model.d-model, --model.n-layers, --train.batch or --train.length");
  Model model(cfg);
  model.set_attention_impl(impl);
  const int64_t n = model.num_params();
  AdamW<float> opt(n, model.layout().decay_mask(), t.adamw);
  RandomBatches data;
  const StepFlops flops = step_flops(cfg, n, B, T);

  auto step = [&](int64_t i) {
    data.next(B, T);
    const float loss = model.forward(data.inputs.data(), data.targets.data(), static_cast<int>(B), static_cast<int>(T));
    PELAB_CHECK(std::isfinite(loss), "the loss became " << loss << " at benchmark step " << i,
                "lower --train.lr (the benchmark uses the config's schedule)");
    model.zero_grad();
    model.backward();
    clip_grad_norm(model.grads(), n, t.grad_clip);
    opt.update(model.params(), model.grads(), t.schedule(i));
  };

  const bench::FmaPeak peak_before = bench::measure_fma_peak(threads, peak_time);
  for (int64_t i = 0; i < warmup; ++i) step(i);
  reset_phase_times();
  set_phase_timing(true);
  using Clock = std::chrono::steady_clock;
  std::vector<double> wall;
  const double cpu0 = bench::process_cpu_seconds();
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    step(warmup + i);
    wall.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double cpu = bench::process_cpu_seconds() - cpu0;
  set_phase_timing(false);
  const PhaseTimes phases = phase_times();
  const bench::FmaPeak peak_after = bench::measure_fma_peak(threads, peak_time);

  double total = 0;
  for (double w : wall) total += w;
  const double mean = total / steps, best = *std::min_element(wall.begin(), wall.end());
  const double peak = std::max(peak_before.gflops, peak_after.gflops);
  const double peak_low = std::min(peak_before.gflops, peak_after.gflops);
  const double model_gflops = flops.model / mean / 1e9;
  const double t_mm = phases[Phase::MATMUL] / steps, t_att = phases[Phase::ATTENTION] / steps;
  const double t_rest = std::max(0.0, mean - t_mm - t_att);
  const double mm_gflops = t_mm > 0 ? flops.matmul / t_mm / 1e9 : NAN;
  const double att_gflops = t_att > 0 ? flops.attention / t_att / 1e9 : NAN;
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");

  if (json) {
    bench::JsonLine j;
    j.str("topic", "train")
        .str("pe", to_string(cfg.pe.kind))
        .integer("d_model", cfg.d_model)
        .integer("n_layers", cfg.n_layers)
        .integer("n_heads", cfg.n_heads)
        .integer("params", n)
        .integer("batch", B)
        .integer("length", T)
        .str("attention_impl", to_string(impl))
        .integer("steps", steps)
        .integer("warmup_steps", warmup)
        .num("step_seconds", mean)
        .num("step_seconds_best", best)
        .num("tokens_per_s", static_cast<double>(B * T) / mean)
        .num("model_flops_per_token", flops.model / static_cast<double>(B * T))
        .num("model_gflops", model_gflops)
        .num("peak_gflops", peak)
        .num("peak_gflops_low", peak_low)
        .num("mfu", model_gflops / peak)
        .num("mfu_best_step", flops.model / best / 1e9 / peak)
        .num("cpu_seconds_per_step", cpu / steps / threads)
        .num("matmul_seconds", t_mm)
        .num("attention_seconds", t_att)
        .num("other_seconds", t_rest)
        .num("matmul_fraction", t_mm / mean)
        .num("attention_fraction", t_att / mean)
        .num("other_fraction", t_rest / mean)
        .num("matmul_gflops", mm_gflops)
        .num("matmul_ratio_to_peak", mm_gflops / peak)
        .num("attention_gflops", att_gflops)
        .num("attention_ratio_to_peak", att_gflops / peak)
        .integer("threads", threads)
        .str("fma_isa", peak_before.isa)
        .integer("peak_rss_bytes", bench::peak_rss_bytes());
    if (coretype) j.str("openblas_coretype", coretype);
    else j.null("openblas_coretype");
    j.str("revision", PELAB_GIT_REVISION);
    std::printf("%s\n", j.text().c_str());
    return 0;
  }
  std::printf("pelab bench train: --pe %s, d_model %d, %d layers, %d heads, %lld parameters; B %lld x T %lld tokens/step;\n"
              "%s attention, %d thread(s), %d timed steps after %lld warm-up, revision %s\n",
              to_string(cfg.pe.kind).c_str(), cfg.d_model, cfg.n_layers, cfg.n_heads, static_cast<long long>(n),
              static_cast<long long>(B), static_cast<long long>(T), to_string(impl), threads, steps, warmup,
              PELAB_GIT_REVISION);
  std::printf("step %.4f s (mean; best %.4f)  %.0f tokens/s\n", mean, best, static_cast<double>(B * T) / mean);
  std::printf("model FLOPs %.2f M/token (6P + 12LCT)  %.1f GFLOP/s  FMA peak %.1f GFLOP/s (%.1f..%.1f)  MFU %.1f%%\n",
              flops.model / static_cast<double>(B * T) / 1e6, model_gflops, peak, peak_low, peak, 100.0 * model_gflops / peak);
  std::printf("%-18s %9s %7s %9s %7s\n", "split (per step)", "seconds", "share", "GFLOP/s", "%peak");
  std::printf("%-18s %9.4f %6.1f%% %9.1f %6.1f%%\n", "matrix products", t_mm, 100 * t_mm / mean, mm_gflops,
              100 * mm_gflops / peak);
  std::printf("%-18s %9.4f %6.1f%% %9.1f %6.1f%%\n", "attention", t_att, 100 * t_att / mean, att_gflops,
              100 * att_gflops / peak);
  std::printf("%-18s %9.4f %6.1f%% %9s %7s\n", "other", t_rest, 100 * t_rest / mean, "-", "-");
  std::printf("process peak RSS %s MB\n", mb(bench::peak_rss_bytes()).c_str());
  return 0;
}

}  // namespace pelab::cli
