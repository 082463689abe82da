// The training loop's pieces in process, as cmd_train.cc uses them: a tiny
// model learns a repetitive corpus within a few dozen AdamW steps, one batch
// overfits, and the state a checkpoint saves (parameters, AdamW m, v and step,
// batcher state) restores the exact continuation. (Exact only because
// cmd_train.cc's operator new aligns every buffer to 64 bytes: the model's
// vectorised loops round differently on differently aligned buffers.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "datasets/batcher.h"
#include "datasets/dataset.h"
#include "model/optimizer.h"
#include "model/transformer.h"

namespace pelab {
namespace {

data::Split tiny_split() {
  data::Split s;
  const std::string text =
      [] {
        std::string t;
        const char* words[] = {"the", "lord", "said", "unto", "moses", "and", "his", "people"};
        for (int j = 0; j < 400; ++j) t += std::string(words[(j * 3) % 8]) + (j % 7 == 6 ? ".\n" : " ");
        return t;
      }();
  s.tokens.assign(text.begin(), text.end());
  s.offsets = {0, static_cast<int64_t>(s.tokens.size())};
  s.names = {"doc"};
  return s;
}

ModelConfig tiny_config() {
  ModelConfig c;
  c.d_model = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  c.pe.kind = PeKind::ROPE;
  c.seed = 3;
  return c;
}

struct Trainer {
  Model model;
  AdamW<float> opt;
  data::Batcher batcher;
  LrSchedule sched;
  data::Batch batch;
  Trainer(const data::Split& s, const ModelConfig& c, int steps)
      : model(c), opt(model.num_params(), model.layout().decay_mask(), AdamWConfig{}),
        batcher(s, data::BatcherOptions{32, 5}), sched{1e-2, 1e-3, 5, steps} {}
  float step(int64_t i) {
    batcher.next(8, batch);
    const float loss = model.forward(batch.inputs.data(), batch.targets.data(), 8, 32);
    model.zero_grad();
    model.backward();
    clip_grad_norm(model.grads(), model.num_params(), 1.0);
    opt.update(model.params(), model.grads(), sched(i));
    return loss;
  }
};

TEST(Train, LossFallsOnTinyCorpus) {
  const data::Split s = tiny_split();
  Trainer t(s, tiny_config(), 40);
  const float first = t.step(0);
  EXPECT_NEAR(first, std::log(256.0), 0.3);
  float last = first;
  for (int i = 1; i < 40; ++i) last = t.step(i);
  EXPECT_LT(last, first - 2.5) << "first " << first << " last " << last;
}

TEST(Train, OverfitsOneBatch) {
  const data::Split s = tiny_split();
  ModelConfig c = tiny_config();
  Model model(c);
  AdamW<float> opt(model.num_params(), model.layout().decay_mask(), AdamWConfig{0.9, 0.95, 1e-8, 0.0});
  data::Batcher b(s, data::BatcherOptions{32, 9});
  const data::Batch batch = b.next(2);
  float loss = 0;
  for (int i = 0; i < 150; ++i) {
    loss = model.forward(batch.inputs.data(), batch.targets.data(), 2, 32);
    model.zero_grad();
    model.backward();
    opt.update(model.params(), model.grads(), 1e-2);
  }
  EXPECT_LT(loss, 0.3);
}

TEST(Train, SavedStateRestoresTheExactContinuation) {
  const data::Split s = tiny_split();
  Trainer a(s, tiny_config(), 20);
  for (int i = 0; i < 10; ++i) a.step(i);
  // What a checkpoint holds.
  const int64_t n = a.model.num_params();
  std::vector<float> p(a.model.params(), a.model.params() + n), m(a.opt.m(), a.opt.m() + n), v(a.opt.v(), a.opt.v() + n);
  const int64_t opt_step = a.opt.step();
  const data::BatcherState bs = data::BatcherState::from_ints(a.batcher.state().to_ints());

  ModelConfig other = tiny_config();
  other.seed = 99;  // a different initialisation, overwritten by the restore
  Trainer b(s, other, 20);
  std::copy(p.begin(), p.end(), b.model.params());
  b.opt.set_state(m.data(), v.data(), opt_step);
  b.batcher.restore(bs);
  for (int i = 10; i < 20; ++i) {
    const float la = a.step(i), lb = b.step(i);
    ASSERT_EQ(la, lb) << "step " << i;
  }
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i)
    if (a.model.params()[i] != b.model.params()[i]) {
      if (differ++ < 5) {
        std::string name;
        for (const auto& t : a.model.layout().tensors())
          if (i >= t.offset && i < t.offset + t.numel) name = t.name;
        ADD_FAILURE() << "parameter " << i << " (" << name << ") " << a.model.params()[i] << " vs " << b.model.params()[i];
      }
    }
  EXPECT_EQ(differ, 0) << "of " << n;
}

}  // namespace
}  // namespace pelab
