// Eigen (the model's matrix products, model/layers.cc) against OpenBLAS on the
// products of one training step: the measurement behind the model's choice of
// Eigen (docs/performance.md "Training"). Same shapes, same FLOPs, timed
// interleaved in one process with the FMA peak measured before and after.
//
//   gemm_backends [N C F V]      defaults: small.ini, N = B·T = 4096, C 256, F 1024, V 256
//
// Variants (each runs every forward and backward product of one block and the
// tied head: x·W for Wq, Wk, Wv, Wo, W1, W2, head; dX = dY·Wᵀ; dW += Xᵀ·dY):
//   eigen            the model's code: one serial Eigen product per OpenMP thread on disjoint blocks
//   openblas-split   cblas_sgemm on the same blocks, OpenBLAS single-threaded inside each OpenMP thread
//   openblas-threads one cblas_sgemm per product, OpenBLAS's own thread pool
// OpenBLAS's kernels follow OPENBLAS_CORETYPE (reported); run once with the
// environment's value and once with e.g. OPENBLAS_CORETYPE=SkylakeX.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "bench/fma_peak.h"
#include "bench/report.h"
#include "core/aligned_vector.h"
#include "core/rng.h"
#include "model/layers.h"
#include "model/parallel.h"  // rows split as the model splits them

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

namespace {

using pelab::AlignedVector;

struct Shape {
  int in = 0, out = 0;  // W is (in, out)
};

struct Buffers {
  AlignedVector<float> x, w, y, dy, dx, dw;
  Buffers(int N, Shape s) : x(size_t(N) * s.in), w(size_t(s.in) * s.out), y(size_t(N) * s.out), dy(size_t(N) * s.out),
                            dx(size_t(N) * s.in), dw(size_t(s.in) * s.out) {
    pelab::Rng r(uint64_t(s.in) * 7919 + s.out);
    for (auto* v : {&x, &w, &dy})
      for (float& e : *v) e = static_cast<float>(r.uniform() - 0.5);
  }
};

void eigen_pass(Buffers& b, int N, Shape s) {
  std::fill(b.dw.begin(), b.dw.end(), 0.0f);
  pelab::matmul_forward(b.y.data(), b.x.data(), b.w.data(), N, s.in, s.out);
  pelab::matmul_backward(b.dx.data(), b.dw.data(), b.dy.data(), b.x.data(), b.w.data(), N, s.in, s.out, false);
}

void openblas_split_pass(Buffers& b, int N, Shape s) {
  std::fill(b.dw.begin(), b.dw.end(), 0.0f);
  const int C = s.in, OC = s.out;
  pelab::parallel_ranges(N, [&](int64_t r0, int64_t r1) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(r1 - r0), OC, C, 1.0f, b.x.data() + r0 * C, C,
                b.w.data(), OC, 0.0f, b.y.data() + r0 * OC, OC);
  });
  pelab::parallel_ranges(N, [&](int64_t r0, int64_t r1) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(r1 - r0), C, OC, 1.0f, b.dy.data() + r0 * OC, OC,
                b.w.data(), OC, 0.0f, b.dx.data() + r0 * C, C);
  });
  pelab::parallel_ranges(C, [&](int64_t c0, int64_t c1) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(c1 - c0), OC, N, 1.0f, b.x.data() + c0, C, b.dy.data(),
                OC, 1.0f, b.dw.data() + c0 * OC, OC);
  });
}

void openblas_threads_pass(Buffers& b, int N, Shape s) {
  std::fill(b.dw.begin(), b.dw.end(), 0.0f);
  const int C = s.in, OC = s.out;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f, b.x.data(), C, b.w.data(), OC, 0.0f,
              b.y.data(), OC);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, OC, 1.0f, b.dy.data(), OC, b.w.data(), OC, 0.0f,
              b.dx.data(), C);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, N, 1.0f, b.x.data(), C, b.dy.data(), OC, 1.0f,
              b.dw.data(), OC);
}

double max_rel_diff(const AlignedVector<float>& a, const AlignedVector<float>& b) {
  double m = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(a[i])));
  }
  return m / std::max(scale, 1e-30);
}

}  // namespace

int main(int argc, char** argv) {
  int N = 4096, C = 256, F = 1024, V = 256;
  if (argc != 1 && argc != 5) {
    std::fprintf(stderr, "usage: gemm_backends [N C F V]   (rows B*T, d_model, MLP width, vocabulary)\n");
    return 2;
  }
  if (argc == 5) {
    N = std::atoi(argv[1]), C = std::atoi(argv[2]), F = std::atoi(argv[3]), V = std::atoi(argv[4]);
    if (N < 1 || C < 1 || F < 1 || V < 1 || N > (1 << 22) || C > 65536 || F > 65536 || V > 65536) {
      std::fprintf(stderr, "gemm_backends: sizes must be positive (N <= 4194304, others <= 65536)\n");
      return 2;
    }
  }
  const int threads = omp_get_max_threads();
  // One block's products and the head, as (in, out) of W.
  const std::vector<Shape> shapes = {{C, C}, {C, C}, {C, C}, {C, C}, {C, F}, {F, C}, {C, V}};
  std::vector<Buffers> eig, obs, obt;
  double flops = 0;
  for (Shape s : shapes) {
    eig.emplace_back(N, s);
    obs.emplace_back(N, s);
    obt.emplace_back(N, s);
    flops += 6.0 * N * s.in * s.out;  // forward 2·N·in·out, backward twice that
  }
  auto run_eigen = [&] { for (size_t i = 0; i < shapes.size(); ++i) eigen_pass(eig[i], N, shapes[i]); };
  auto run_split = [&] {
    openblas_set_num_threads(1);
    for (size_t i = 0; i < shapes.size(); ++i) openblas_split_pass(obs[i], N, shapes[i]);
  };
  auto run_threads = [&] {
    openblas_set_num_threads(threads);
    for (size_t i = 0; i < shapes.size(); ++i) openblas_threads_pass(obt[i], N, shapes[i]);
  };

  // Check: the three give the same products (fp32, K <= 4096 terms: relative 1e-4 is ~100x their rounding).
  run_eigen(), run_split(), run_threads();
  double err = 0;
  for (size_t i = 0; i < shapes.size(); ++i)
    for (auto* o : {&obs[i], &obt[i]})
      err = std::max({err, max_rel_diff(eig[i].y, o->y), max_rel_diff(eig[i].dx, o->dx), max_rel_diff(eig[i].dw, o->dw)});
  if (!(err <= 1e-4)) {
    std::fprintf(stderr, "gemm_backends: Eigen and OpenBLAS disagree (max relative difference %.2e > 1e-4)\n", err);
    return 1;
  }

  const pelab::bench::FmaPeak p0 = pelab::bench::measure_fma_peak(threads);
  const std::vector<pelab::bench::Timing> t =
      pelab::bench::time_best_interleaved({run_eigen, run_split, run_threads}, /*min_time=*/3.0, /*min_repeats=*/10);
  const pelab::bench::FmaPeak p1 = pelab::bench::measure_fma_peak(threads);
  const double peak = std::max(p0.gflops, p1.gflops);

  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("gemm_backends: N %d, C %d, F %d, V %d; %d thread(s); OPENBLAS_CORETYPE=%s (OpenBLAS core: %s)\n", N, C,
              F, V, threads, coretype ? coretype : "(unset)", openblas_get_corename());
  std::printf("one block's and the head's forward + backward products: %.2f GFLOP; FMA peak %.1f GFLOP/s (%.1f..%.1f);\n"
              "max relative difference to Eigen %.1e\n", flops / 1e9, peak, std::min(p0.gflops, p1.gflops), peak, err);
  std::printf("%-17s %10s %9s %7s %9s\n", "variant", "best_s", "GFLOP/s", "%peak", "x_eigen");
  const char* names[] = {"eigen", "openblas-split", "openblas-threads"};
  for (size_t i = 0; i < t.size(); ++i) {
    const double g = flops / t[i].best / 1e9;
    std::printf("%-17s %10.5f %9.1f %6.1f%% %9.2f\n", names[i], t[i].best, g, 100 * g / peak, t[0].best / t[i].best);
  }
  return 0;
}
