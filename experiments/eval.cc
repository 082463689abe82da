#include "experiments/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/progress.h"
#include "datasets/batcher.h"

namespace pelab {

const char* to_string(EvalProtocol p) { return p == EvalProtocol::SLIDING ? "sliding" : "nonoverlap"; }

double eval_flops(const ModelConfig& cfg, int64_t parameters, int64_t T) {
  const double t = static_cast<double>(T);
  return 2.0 * static_cast<double>(parameters) * t + 2.0 * t * t * cfg.d_model * cfg.n_layers;
}

namespace {

void check_options(const EvalOptions& opt, const EvalText& text) {
  PELAB_CHECK(!opt.lengths.empty(), "no evaluation lengths", "give --lengths, e.g. --lengths 256,1024,4096");
  for (size_t i = 0; i < opt.lengths.size(); ++i) {
    PELAB_CHECK(opt.lengths[i] >= 1, "--lengths must be positive integers, got " << opt.lengths[i], "e.g. --lengths 256,1024");
    PELAB_CHECK(i == 0 || opt.lengths[i] > opt.lengths[i - 1], "--lengths must be ascending and distinct",
                "e.g. --lengths 256,1024,4096");
  }
  PELAB_CHECK(!opt.protocols.empty(), "no evaluation protocol", "give --protocol nonoverlap, sliding or both");
  const bool sliding = std::find(opt.protocols.begin(), opt.protocols.end(), EvalProtocol::SLIDING) != opt.protocols.end();
  if (sliding)
    PELAB_CHECK(opt.stride >= 1 && opt.stride <= opt.lengths.front(),
                "--stride must be in [1, " << opt.lengths.front() << "] (the shortest length), got " << opt.stride,
                "e.g. --stride 256; stride 1 scores one token per window (the most context, the slowest)");
  PELAB_CHECK(opt.max_tokens >= 0, "--eval.max-tokens must be >= 0, got " << opt.max_tokens, "0 means the whole text");
  PELAB_CHECK(opt.batch_tokens >= 1, "the batch budget must be >= 1 token", "");
  const int64_t longest = opt.lengths.back();
  const int64_t n = static_cast<int64_t>(text.tokens.size());
  PELAB_CHECK(n >= longest + 1,
              "the text (" << text.source << ") has " << n << " tokens, fewer than the longest length + 1 = " << longest + 1,
              "give a longer text, or evaluate at shorter --lengths");
  PELAB_CHECK(opt.max_tokens == 0 || opt.max_tokens >= longest,
              "--eval.max-tokens " << opt.max_tokens << " is below the longest length " << longest,
              "raise --eval.max-tokens to at least " << longest << " (or 0 for the whole text)");
}

// Scores the windows of one (protocol, length): windows of equal length are
// batched; targets before a window's score_from are ignored (-1).
void score(Model& model, const std::vector<uint8_t>& tokens, const std::vector<data::EvalWindow>& windows,
           int64_t batch_tokens, LengthResult& r, Progress& progress, int64_t& done) {
  const int64_t L = r.length;
  r.pos_sum.assign(L, 0.0);
  r.pos_count.assign(L, 0);
  std::map<int64_t, std::vector<const data::EvalWindow*>> by_length;
  for (const auto& w : windows) by_length[w.length].push_back(&w);
  std::vector<int32_t> in, tg;
  std::vector<float> nll;
  for (const auto& [len, group] : by_length) {
    const int64_t per_batch = std::max<int64_t>(1, batch_tokens / len);
    for (size_t first = 0; first < group.size(); first += per_batch) {
      const int64_t B = std::min<int64_t>(per_batch, static_cast<int64_t>(group.size() - first));
      in.resize(B * len);
      tg.resize(B * len);
      nll.resize(B * len);
      for (int64_t b = 0; b < B; ++b) {
        const data::EvalWindow& w = *group[first + b];
        for (int64_t t = 0; t < len; ++t) {
          in[b * len + t] = tokens[w.begin + t];
          tg[b * len + t] = t >= w.score_from ? tokens[w.begin + t + 1] : -1;
        }
      }
      model.evaluate(in.data(), tg.data(), static_cast<int>(B), static_cast<int>(len), nll.data());
      for (int64_t b = 0; b < B; ++b) {
        const data::EvalWindow& w = *group[first + b];
        double window_sum = 0;
        for (int64_t t = w.score_from; t < len; ++t) {
          const double x = nll[b * len + t];
          window_sum += x;
          r.pos_sum[t] += x;
          ++r.pos_count[t];
        }
        r.nll_sum += window_sum;
        r.count += len - w.score_from;
        r.window_offset.push_back(w.begin + w.score_from);
        r.window_tokens.push_back(len - w.score_from);
        r.window_nll.push_back(window_sum);
      }
      r.computed += B * len;
      done += B * len;
      progress.update(done, "L " + std::to_string(L));
    }
  }
}

}  // namespace

EvalReport evaluate_text(Model& model, const EvalText& text, const EvalOptions& opt) {
  check_options(opt, text);
  const int64_t longest = opt.lengths.back();
  const int64_t n = static_cast<int64_t>(text.tokens.size());
  int64_t M = (n - 1) / longest * longest;
  if (opt.max_tokens > 0) M = std::min(M, opt.max_tokens / longest * longest);
  EvalReport rep;
  rep.scored = M;
  rep.dropped = n - (M + 1);
  const std::vector<uint8_t> tokens(text.tokens.begin(), text.tokens.begin() + M + 1);

  // Work in tokens through the model, for the progress line.
  int64_t total = 0;
  std::vector<std::vector<std::vector<data::EvalWindow>>> plan;
  for (EvalProtocol p : opt.protocols) {
    plan.emplace_back();
    for (int64_t L : opt.lengths) {
      plan.back().push_back(p == EvalProtocol::SLIDING ? data::sliding_windows(M + 1, L, opt.stride)
                                                       : data::nonoverlap_windows(M + 1, L));
      for (const auto& w : plan.back().back()) total += w.length;
    }
  }
  Progress progress("eval", total, opt.quiet ? Progress::Mode::QUIET : Progress::Mode::AUTO);
  int64_t done = 0;
  const int64_t P = model.num_params();
  using Clock = std::chrono::steady_clock;
  for (size_t pi = 0; pi < opt.protocols.size(); ++pi) {
    ProtocolResult pr;
    pr.protocol = opt.protocols[pi];
    for (size_t li = 0; li < opt.lengths.size(); ++li) {
      LengthResult r;
      r.length = opt.lengths[li];
      const auto t0 = Clock::now();
      score(model, tokens, plan[pi][li], opt.batch_tokens, r, progress, done);
      r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      for (const auto& w : plan[pi][li]) r.flops += eval_flops(model.config(), P, w.length);
      PELAB_CHECK(r.count == M, "internal: " << to_string(pr.protocol) << " at L " << r.length << " scored " << r.count
                                             << " targets, not " << M,
                  "this is a bug in pelab");
      pr.lengths.push_back(std::move(r));
    }
    rep.protocols.push_back(std::move(pr));
  }
  progress.finish();
  return rep;
}

void write_protocol_result(h5::Group& g, const ProtocolResult& r) {
  std::vector<int64_t> lengths, tokens;
  std::vector<double> ppl, nll, bpb, seconds;
  for (const auto& x : r.lengths) {
    lengths.push_back(x.length);
    tokens.push_back(x.count);
    nll.push_back(x.nll());
    ppl.push_back(std::exp(x.nll()));
    bpb.push_back(x.nll() / std::log(2.0));
    seconds.push_back(x.seconds);
  }
  g.set_attr("protocol", to_string(r.protocol));
  g.write("lengths", lengths);
  g.write("ppl", ppl);
  g.write("nll", nll);
  g.write("bpb", bpb);
  g.write("tokens", tokens);
  g.write("seconds", seconds);
  h5::Group pos = g.create_group("loss_by_position");
  h5::Group cnt = g.create_group("count_by_position");
  for (const auto& x : r.lengths) {
    std::vector<double> mean(x.pos_sum.size());
    for (size_t t = 0; t < mean.size(); ++t)
      mean[t] = x.pos_count[t] ? x.pos_sum[t] / static_cast<double>(x.pos_count[t]) : std::nan("");
    pos.write(std::to_string(x.length), mean);
    cnt.write(std::to_string(x.length), x.pos_count);
  }
  h5::Group wo = g.create_group("window_offset");
  h5::Group wn = g.create_group("window_nll");
  h5::Group wt = g.create_group("window_tokens");
  for (const auto& x : r.lengths) {
    wo.write(std::to_string(x.length), x.window_offset);
    wn.write(std::to_string(x.length), x.window_nll);
    wt.write(std::to_string(x.length), x.window_tokens);
  }
}

}  // namespace pelab
