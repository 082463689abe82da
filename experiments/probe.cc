#include "experiments/probe.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "datasets/batcher.h"
#include "experiments/statistics.h"

namespace pelab {

int64_t probe_input_length(const ProbeOptions& opt, int64_t L) {
  if (opt.suite) return data::task_max_bytes(*opt.suite, L) - 1;
  return opt.task == data::SyntheticTask::COPY ? 2 * L + 1 : L;
}

namespace {

// One stream per example: what an example is does not depend on which other
// cells or trials run, so `--examples` shows exactly what is scored.
Rng example_stream(const ProbeOptions& opt, int64_t L, int64_t c, int64_t k) {
  return Rng::stream(opt.seed, Rng::mix(1000003 * static_cast<uint64_t>(L) + static_cast<uint64_t>(c)) +
                                   static_cast<uint64_t>(k));
}

}  // namespace

data::TaskExample probe_task_example(const ProbeOptions& opt, int64_t L, int64_t k) {
  PELAB_CHECK(opt.suite.has_value(), "no task of the suite", "this is a bug in pelab");
  Rng rng = example_stream(opt, L, 0, k);
  return data::make_task_example(*opt.suite, L, rng);
}

std::vector<double> probe_positions(const ProbeOptions& opt, int64_t L, int64_t c, int64_t k, int64_t n) {
  PELAB_CHECK(opt.random_positions >= n, "--random-positions " << opt.random_positions << " is shorter than an example of "
                                                               << n << " tokens",
              "give --random-positions at least the longest example");
  // A stream apart from the example's own (which draws its content), so that
  // the examples are those of the same probe at 0..n-1.
  Rng rng = Rng::stream(example_stream(opt, L, c, k).next_u64(), 7);
  std::vector<double> pos(static_cast<size_t>(n));
  data::draw_sorted_positions(opt.random_positions, n, rng, pos.data());
  return pos;
}

data::Example probe_example(const ProbeOptions& opt, int64_t L, int64_t c, double depth, int64_t k) {
  if (opt.suite) return data::task_tokens(probe_task_example(opt, L, k));
  Rng rng = example_stream(opt, L, c, k);
  switch (opt.task) {
    case data::SyntheticTask::PASSKEY: return data::make_passkey(L + 1, rng, opt.haystack, depth);
    case data::SyntheticTask::COPY: return data::make_copy(L, rng);
    case data::SyntheticTask::MQAR: return data::make_mqar(L + 1, rng, opt.haystack, 0);
    case data::SyntheticTask::NONE: break;
  }
  throw Error("no probe task", "choose --probe passkey, copy or mqar");
}

std::vector<double> probe_columns(const ProbeOptions& opt) {
  PELAB_CHECK(opt.trials >= 1, "--trials must be >= 1, got " << opt.trials, "e.g. --trials 10");
  PELAB_CHECK(!opt.lengths.empty(), "no --lengths", "e.g. --lengths 256,1024");
  if (opt.random_positions > 0) {
    const int64_t longest = probe_input_length(opt, *std::max_element(opt.lengths.begin(), opt.lengths.end()));
    PELAB_CHECK(opt.random_positions >= longest && opt.random_positions <= (int64_t{1} << 30),
                "--random-positions " << opt.random_positions << " must be in [" << longest
                                      << " (the longest example's input), 2^30]",
                "give --random-positions at least " << longest << ", e.g. the run's --train.random-positions");
  }
  if (opt.suite) {
    for (int64_t L : opt.lengths) {
      const std::string problem = data::task_length_problem(*opt.suite, L);
      PELAB_CHECK(problem.empty(), problem, "drop that length from --lengths (docs/tasks.md)");
    }
    return {std::nan("")};
  }
  PELAB_CHECK(opt.task != data::SyntheticTask::NONE, "no probe task", "choose --probe passkey, copy or mqar");
  for (int64_t L : opt.lengths) {
    if (opt.task == data::SyntheticTask::COPY) continue;  // any payload n >= 1 builds an example
    PELAB_CHECK(L + 1 >= data::synthetic_min_length(opt.task),
                "--probe " << data::to_string(opt.task) << " needs lengths of at least "
                           << data::synthetic_min_length(opt.task) - 1 << " tokens, got " << L,
                (opt.task == data::SyntheticTask::PASSKEY
                     ? "raise the shortest --lengths: the needle and question take " +
                           std::to_string(data::passkey_fixed_bytes(5)) + " bytes and the haystack at least " +
                           std::to_string(data::kPasskeyMinHaystack)
                     : std::string("raise the shortest --lengths")));
  }
  if (opt.task != data::SyntheticTask::PASSKEY) return {std::nan("")};
  PELAB_CHECK(!opt.depths.empty(), "no --depths", "e.g. --depths 0,0.25,0.5,0.75,1");
  for (double d : opt.depths)
    PELAB_CHECK(d >= 0 && d <= 1, "--depths must be in [0, 1], got " << d, "e.g. --depths 0,0.5,1");
  return opt.depths;
}

ProbeResult run_probe(Model& model, const ProbeOptions& opt) {
  ProbeResult r;
  r.depths = probe_columns(opt);
  const int64_t cols = static_cast<int64_t>(r.depths.size());
  r.accuracy.assign(opt.lengths.size() * cols, 0.0);
  r.byte_accuracy.assign(opt.lengths.size() * cols, 0.0);
  const size_t cells = opt.lengths.size() * static_cast<size_t>(cols) * static_cast<size_t>(opt.trials);
  r.hits.assign(cells, 0), r.bytes_ok.assign(cells, 0), r.bytes.assign(cells, 0);
  Progress progress("probe", static_cast<int64_t>(opt.lengths.size()) * cols * opt.trials,
                    opt.quiet ? Progress::Mode::QUIET : Progress::Mode::AUTO);
  int64_t done = 0;
  const int V = model.config().vocab;
  std::vector<int32_t> in, tg;
  for (size_t li = 0; li < opt.lengths.size(); ++li) {
    const int64_t longest = probe_input_length(opt, opt.lengths[li]);
    for (int64_t c = 0; c < cols; ++c) {
      int64_t hits = 0, bytes_ok = 0, bytes = 0;
      for (int64_t k = 0; k < opt.trials; ++k) {
        const data::Example ex = probe_example(opt, opt.lengths[li], c, r.depths[c], k);
        // A suite task's examples vary in length (a sum's digits); the others are exact.
        const int64_t L = static_cast<int64_t>(ex.tokens.size()) - 1;
        PELAB_CHECK(opt.suite ? L <= longest : L == longest,
                    "probe example of " << ex.tokens.size() << " bytes, expected " << longest + 1,
                    "this is a bug in pelab");
        in.resize(L);
        tg.resize(L);
        for (int64_t t = 0; t < L; ++t) {
          in[t] = ex.tokens[t];
          tg[t] = ex.tokens[t + 1];
        }
        if (opt.random_positions > 0) model.set_positions(probe_positions(opt, opt.lengths[li], c, k, L));
        model.evaluate(in.data(), tg.data(), 1, static_cast<int>(L));
        const float* probs = model.probabilities();
        bool all = true;
        const int64_t ok0 = bytes_ok, n0 = bytes;
        for (int64_t t = 0; t < L; ++t) {
          if (!ex.answer[t + 1]) continue;
          const float* p = probs + t * V;
          const int64_t best = std::max_element(p, p + V) - p;
          const bool ok = best == ex.tokens[t + 1];
          bytes_ok += ok;
          ++bytes;
          all = all && ok;
        }
        hits += all;
        const size_t at = (li * cols + c) * static_cast<size_t>(opt.trials) + k;
        r.hits[at] = all, r.bytes_ok[at] = bytes_ok - ok0, r.bytes[at] = bytes - n0;
        progress.update(++done);
      }
      r.accuracy[li * cols + c] = static_cast<double>(hits) / static_cast<double>(opt.trials);
      r.byte_accuracy[li * cols + c] = bytes ? static_cast<double>(bytes_ok) / static_cast<double>(bytes) : std::nan("");
    }
  }
  progress.finish();
  if (opt.random_positions > 0) model.set_positions({});
  return r;
}

ProbeIntervals probe_intervals(const ProbeResult& r, int64_t trials, size_t li, size_t c) {
  const size_t cols = r.depths.size();
  const size_t at = (li * cols + c) * static_cast<size_t>(trials);
  int64_t hits = 0, ok = 0, n = 0;
  for (int64_t k = 0; k < trials; ++k) hits += r.hits[at + k], ok += r.bytes_ok[at + k], n += r.bytes[at + k];
  ProbeIntervals out;
  const stats::Interval w = stats::wilson(hits, trials);
  out.exact_lo = w.lo, out.exact_hi = w.hi;
  if (n == 0 || trials < 2) {
    out.byte_lo = out.byte_hi = std::nan("");
    return out;
  }
  const double p = static_cast<double>(ok) / static_cast<double>(n);
  const double nbar = static_cast<double>(n) / static_cast<double>(trials);
  double ss = 0;
  for (int64_t k = 0; k < trials; ++k) {
    const double e = static_cast<double>(r.bytes_ok[at + k]) - p * static_cast<double>(r.bytes[at + k]);
    ss += e * e;
  }
  const double se = std::sqrt(ss / (static_cast<double>(trials) * static_cast<double>(trials - 1))) / nbar;
  const double q = stats::t_quantile(0.975, static_cast<double>(trials - 1));
  out.byte_lo = std::max(0.0, p - q * se), out.byte_hi = std::min(1.0, p + q * se);
  return out;
}

}  // namespace pelab
