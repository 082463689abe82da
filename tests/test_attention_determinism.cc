// Same inputs, same thread count -> bit-identical outputs and gradients, run
// after run (training reproducibility, issue 4). Per-thread partial sums in the
// flash backward and statistics pass must not depend on scheduling.
#include <gtest/gtest.h>
#include <omp.h>

#include <random>
#include <vector>

#include "attention/attention.h"

namespace pelab {

TEST(AttentionDeterminism, RepeatedFlashCallsAreBitIdentical) {
  const int B = 1, H = 2, N = 600, D = 32;  // > 2 key blocks per head, several items per thread
  const size_t n = static_cast<size_t>(B) * N * H * D;
  std::mt19937_64 gen(7);
  std::normal_distribution<float> nd;
  std::vector<float> q(n), k(n), v(n), dout(n), table(H * 32);
  for (auto* x : {&q, &k, &v, &dout}) for (auto& y : *x) y = nd(gen);
  for (auto& t : table) t = nd(gen);
  struct Result {
    std::vector<float> o, lse, dq, dk, dv, dbias, entropy;
    std::vector<double> score;
  };
  auto run = [&](int load) {
    Result r;
    r.o.assign(n, 0);
    r.lse.assign(B * H * N, 0);
    r.dq.assign(n, 0);
    r.dk.assign(n, 0);
    r.dv.assign(n, 0);
    r.dbias.assign(table.size(), 0);
    r.entropy.assign(B * H * N, 0);
    auto p = AttentionParams<float>::dense(q.data(), k.data(), v.data(), r.o.data(), r.lse.data(), B, N, N, H, D, true);
    p.bias.kind = AttnBias::T5;
    p.bias.table = table.data();
    // Uneven work on one thread before the call perturbs the timing between runs.
#pragma omp parallel
    {
      volatile double x = 0;
      if (omp_get_thread_num() == 0)
        for (int i = 0; i < load; ++i) x = x + i;
    }
    attention_forward(p, AttnImpl::FLASH);
    AttentionGrads<float> g{dout.data(), r.dq.data(), r.dk.data(), r.dv.data(), r.dbias.data()};
    attention_backward(p, g, AttnImpl::FLASH);
    const int64_t maxd = N - 1;
    r.score.assign(H * (maxd + 1), 0);
    std::vector<double> logit(r.score.size()), prob(r.score.size());
    std::vector<int64_t> count(r.score.size());
    AttentionStats st{maxd, r.score.data(), logit.data(), prob.data(), count.data(), r.entropy.data()};
    attention_statistics(p, st, AttnImpl::FLASH);
    return r;
  };
  const Result first = run(0);
  for (int rep = 1; rep <= 4; ++rep) {
    const Result again = run(rep * 200000);
    EXPECT_EQ(again.o, first.o) << rep;
    EXPECT_EQ(again.lse, first.lse) << rep;
    EXPECT_EQ(again.dq, first.dq) << rep;
    EXPECT_EQ(again.dk, first.dk) << rep;
    EXPECT_EQ(again.dv, first.dv) << rep;
    EXPECT_EQ(again.dbias, first.dbias) << rep;
    EXPECT_EQ(again.score, first.score) << rep;
    EXPECT_EQ(again.entropy, first.entropy) << rep;
  }
}

}  // namespace pelab
