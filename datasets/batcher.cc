#include "datasets/batcher.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pelab::data {

std::vector<int64_t> BatcherState::to_ints() const { return {static_cast<int64_t>(rng), rows, synthetic}; }

BatcherState BatcherState::from_ints(const std::vector<int64_t>& v) {
  PELAB_CHECK(v.size() == 3 && v[1] >= 0 && v[2] >= 0 && v[2] <= v[1],
              "invalid saved batcher state (" << v.size() << " values)", "the checkpoint is damaged or from another version");
  return {static_cast<uint64_t>(v[0]), v[1], v[2]};
}

Batcher::Batcher(const Split& train, const BatcherOptions& opt)
    : train_(&train), opt_(opt), synthetic_opt_{Haystack(train.tokens), opt.copy_min, opt.copy_max},
      rng_(Rng::stream(opt.seed, 2)) {
  PELAB_CHECK(opt.length >= 1, "the context length must be >= 1, got " << opt.length, "e.g. --train.length 256");
  PELAB_CHECK(train.num_tokens() >= opt.length + 1,
              "the training split has " << train.num_tokens() << " tokens, fewer than the context length + 1 ("
                                        << opt.length + 1 << ")",
              "use a shorter --train.length or a larger corpus");
  PELAB_CHECK(std::isfinite(opt.synthetic_rate) && opt.synthetic_rate >= 0 && opt.synthetic_rate <= 1,
              "--data.synthetic-rate must be in [0, 1], got " << opt.synthetic_rate, "e.g. --data.synthetic-rate 0.1");
  if (opt.synthetic != SyntheticTask::NONE && opt.synthetic_rate > 0) {
    const int64_t min = synthetic_min_length(opt.synthetic);
    PELAB_CHECK(opt.length + 1 >= min, "--data.synthetic " << to_string(opt.synthetic) << " needs rows of at least " << min
                                                            << " tokens; the context length + 1 is " << opt.length + 1,
                "use a longer --train.length or another task");
    if (opt.synthetic == SyntheticTask::COPY) copy_range(opt.length + 1, opt.copy_min, opt.copy_max);
  }
  check_task_options(opt);
}

void check_task_options(const BatcherOptions& opt) {
  if (!opt.has_task) return;
  PELAB_CHECK(opt.synthetic == SyntheticTask::NONE || opt.synthetic_rate == 0,
              "a task dataset (" << task_info(opt.task).name << ") trains on the task alone; --data.synthetic cannot mix into it",
              "drop --data.synthetic, or train on a corpus dataset");
  check_task_range(opt.task, opt.task_min, opt.task_max, opt.length + 1);
}

void draw_sorted_positions(int64_t M, int64_t T, Rng& rng, double* out) {
  PELAB_CHECK(T >= 0 && M >= T, "cannot draw " << T << " distinct positions from [0, " << M << ")",
              "give --train.random-positions >= --train.length");
  int64_t chosen = 0;
  for (int64_t i = 0; i < M && chosen < T; ++i)
    if (static_cast<int64_t>(rng.below(static_cast<uint64_t>(M - i))) < T - chosen) out[chosen++] = static_cast<double>(i);
}

void Batcher::restore(const BatcherState& s) {
  rng_.set_state(s.rng);
  rows_ = s.rows;
  synthetic_ = s.synthetic;
}

void Batcher::next(int64_t B, Batch& out) {
  PELAB_CHECK(B >= 1, "batch size must be >= 1, got " << B, "e.g. --train.batch 16");
  const int64_t T = opt_.length;
  out.B = B;
  out.T = T;
  out.inputs.resize(static_cast<size_t>(B * T));
  out.targets.resize(static_cast<size_t>(B * T));
  out.answer.assign(static_cast<size_t>(B * T), 0);
  out.synthetic.assign(static_cast<size_t>(B), 0);
  const bool mix = opt_.synthetic != SyntheticTask::NONE && opt_.synthetic_rate > 0;
  const uint64_t starts = static_cast<uint64_t>(train_->num_tokens() - T);  // valid starts: [0, N - T - 1]
  if (opt_.random_positions > 0) {
    out.positions.resize(static_cast<size_t>(B * T));
    const uint64_t base = Rng::stream(opt_.seed, 6).next_u64();
    for (int64_t b = 0; b < B; ++b) {
      Rng r = Rng::stream(base, static_cast<uint64_t>(rows_ + b));
      draw_sorted_positions(opt_.random_positions, T, r, out.positions.data() + b * T);
    }
  } else {
    out.positions.clear();
  }
  for (int64_t b = 0; b < B; ++b) {
    int32_t* in = out.inputs.data() + b * T;
    int32_t* tg = out.targets.data() + b * T;
    if (opt_.has_task) {
      const Example ex = make_task_row(opt_.task, T + 1, rng_, opt_.task_min, opt_.task_max);
      for (int64_t t = 0; t < T; ++t) {
        const uint8_t a = ex.answer[t + 1];
        in[t] = ex.tokens[t];
        tg[t] = a ? ex.tokens[t + 1] : -1;  // the loss covers the answers only
        out.answer[b * T + t] = a;
      }
      out.synthetic[b] = 1;
      ++synthetic_;
      ++rows_;
      continue;
    }
    // The coin is drawn only when mixing, so rate 0 gives the plain stream.
    if (mix && rng_.uniform() < opt_.synthetic_rate) {
      const Example ex = make_synthetic(opt_.synthetic, T + 1, rng_, synthetic_opt_);
      for (int64_t t = 0; t < T; ++t) {
        in[t] = ex.tokens[t];
        tg[t] = ex.tokens[t + 1];
        out.answer[b * T + t] = ex.answer[t + 1];
      }
      out.synthetic[b] = 1;
      ++synthetic_;
    } else {
      const uint8_t* w = train_->tokens.data() + rng_.below(starts);
      for (int64_t t = 0; t < T; ++t) {
        in[t] = w[t];
        tg[t] = w[t + 1];
      }
    }
    ++rows_;
  }
}

std::vector<EvalWindow> nonoverlap_windows(int64_t n, int64_t L) {
  PELAB_CHECK(L >= 1, "evaluation length must be >= 1, got " << L, "e.g. --lengths 256,512");
  std::vector<EvalWindow> w;
  for (int64_t b = 0; b + 1 < n; b += L) w.push_back({b, std::min(L, n - 1 - b), 0});
  return w;
}

std::vector<EvalWindow> sliding_windows(int64_t n, int64_t L, int64_t stride) {
  PELAB_CHECK(L >= 1, "evaluation length must be >= 1, got " << L, "e.g. --lengths 256,512");
  PELAB_CHECK(stride >= 1 && stride <= L, "--stride must be in [1, " << L << "], got " << stride, "e.g. --stride 256");
  std::vector<EvalWindow> w;
  if (n < 2) return w;
  int64_t end = std::min(L, n - 1);  // targets scored so far: 1 .. end
  w.push_back({0, end, 0});
  while (end < n - 1) {
    const int64_t new_end = std::min(end + stride, n - 1);
    const int64_t begin = std::max<int64_t>(0, new_end - L);
    w.push_back({begin, new_end - begin, end - begin});
    end = new_end;
  }
  return w;
}

}  // namespace pelab::data
