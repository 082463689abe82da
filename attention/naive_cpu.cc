// Naive attention on the CPU: materializes the (Nq, Nk) scores of one
// (batch, head) at a time. It is the oracle the flash kernels are tested
// against, in fp64 (and a plain same-precision baseline in fp32). Written for
// clarity; its matrix products go through Eigen, so as the benchmark's
// "naive" baseline it is GEMM + softmax + GEMM, not a scalar loop.
#include <Eigen/Core>
#include <algorithm>
#include <type_traits>
#include <vector>

#include "attention/attention_impl.h"

namespace pelab {

namespace {

template <typename T>
struct HeadView {
  const T* q;
  const T* k;
  const T* v;
  int64_t qs, ks, vs;  // row strides
};

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMap = Eigen::Map<const RowMat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using Map = Eigen::Map<RowMat<T>, 0, Eigen::OuterStride<>>;

template <typename T>
HeadView<T> head_view(const AttentionParams<T>& p, int b, int h) {
  return {p.q + b * p.q_batch_stride + h * p.q_head_stride, p.k + b * p.k_batch_stride + h * p.k_head_stride,
          p.v + b * p.v_batch_stride + h * p.v_head_stride, p.q_row_stride, p.k_row_stride, p.v_row_stride};
}

// logits (Nq, Nk) of one head: scale·q·k + bias, -inf where masked;
// if `raw` is given it receives scale·q·k without bias.
template <typename T>
void head_logits(const AttentionParams<T>& p, int b, int h, std::vector<T>& logits, std::type_identity_t<std::vector<T>>* raw) {
  const HeadView<T> hv = head_view(p, b, h);
  const T ninf = -std::numeric_limits<T>::infinity();
  logits.resize(static_cast<size_t>(p.nq) * p.nk);
  ConstMap<T> Q(hv.q, p.nq, p.head_dim, Eigen::OuterStride<>(hv.qs));
  ConstMap<T> K(hv.k, p.nk, p.head_dim, Eigen::OuterStride<>(hv.ks));
  Map<T> S(logits.data(), p.nq, p.nk, Eigen::OuterStride<>(p.nk));
  S.noalias() = static_cast<T>(p.softmax_scale) * (Q * K.transpose());
  if (raw) *raw = logits;
  for (int i = 0; i < p.nq; ++i) {
    const int64_t qpos = p.q_offset + i;
    for (int j = 0; j < p.nk; ++j) {
      const int64_t kpos = p.k_offset + j;
      T& s = logits[static_cast<size_t>(i) * p.nk + j];
      if (!attn_visible(p.causal, qpos, kpos)) {
        s = ninf;
        if (raw) (*raw)[static_cast<size_t>(i) * p.nk + j] = 0;
        continue;
      }
      s += static_cast<T>(p.bias(h, static_cast<double>(qpos), static_cast<double>(kpos)));
    }
  }
}

// In place: logits -> probabilities, row by row; returns the log-sum-exps.
template <typename T>
void softmax_rows(std::vector<T>& x, int nq, int nk, std::vector<T>& lse) {
  lse.assign(nq, -std::numeric_limits<T>::infinity());
  for (int i = 0; i < nq; ++i) {
    T* row = x.data() + static_cast<size_t>(i) * nk;
    const T m = *std::max_element(row, row + nk);
    if (m == -std::numeric_limits<T>::infinity()) {  // no visible key: output 0, lse -inf
      std::fill(row, row + nk, T(0));
      continue;
    }
    T sum = 0;
    for (int j = 0; j < nk; ++j) sum += (row[j] = std::exp(row[j] - m));
    for (int j = 0; j < nk; ++j) row[j] /= sum;
    lse[i] = m + std::log(sum);
  }
}

}  // namespace

template <typename T>
void naive_forward_cpu(const AttentionParams<T>& p) {
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h) {
      std::vector<T> P, lse;
      head_logits(p, b, h, P, nullptr);
      softmax_rows(P, p.nq, p.nk, lse);
      const HeadView<T> hv = head_view(p, b, h);
      ConstMap<T> Pm(P.data(), p.nq, p.nk, Eigen::OuterStride<>(p.nk));
      ConstMap<T> V(hv.v, p.nk, p.head_dim, Eigen::OuterStride<>(hv.vs));
      Map<T> O(p.o + b * p.o_batch_stride + h * p.o_head_stride, p.nq, p.head_dim, Eigen::OuterStride<>(p.o_row_stride));
      O.noalias() = Pm * V;
      float* l = p.lse + (static_cast<int64_t>(b) * p.heads + h) * p.nq;
      for (int i = 0; i < p.nq; ++i) l[i] = static_cast<float>(lse[i]);
    }
}

template <typename T>
void naive_backward_cpu(const AttentionParams<T>& p, const AttentionGrads<T>& g) {
  // Learned-bias gradients from different heads touch different entries, but
  // batches share them: accumulate per (b, h) and add serially.
  const int64_t table = p.bias.table_size(p.heads);
  std::vector<std::vector<double>> dbias_parts(static_cast<size_t>(p.batch) * p.heads);
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h) {
      std::vector<T> P, lse;
      head_logits(p, b, h, P, nullptr);
      softmax_rows(P, p.nq, p.nk, lse);
      const HeadView<T> hv = head_view(p, b, h);
      const T* dout = g.dout + b * p.o_batch_stride + h * p.o_head_stride;
      T* dq = g.dq + b * p.q_batch_stride + h * p.q_head_stride;
      T* dk = g.dk + b * p.k_batch_stride + h * p.k_head_stride;
      T* dv = g.dv + b * p.v_batch_stride + h * p.v_head_stride;
      const int D = p.head_dim;
      const T scale = static_cast<T>(p.softmax_scale);
      ConstMap<T> Q(hv.q, p.nq, D, Eigen::OuterStride<>(hv.qs));
      ConstMap<T> K(hv.k, p.nk, D, Eigen::OuterStride<>(hv.ks));
      ConstMap<T> V(hv.v, p.nk, D, Eigen::OuterStride<>(hv.vs));
      ConstMap<T> dO(dout, p.nq, D, Eigen::OuterStride<>(p.o_row_stride));
      ConstMap<T> Pm(P.data(), p.nq, p.nk, Eigen::OuterStride<>(p.nk));
      // forward: O = P·V, so dV = Pᵀ·dO and dP = dO·Vᵀ
      Map<T>(dv, p.nk, D, Eigen::OuterStride<>(p.v_row_stride)).noalias() = Pm.transpose() * dO;
      std::vector<T> dS(static_cast<size_t>(p.nq) * p.nk);
      Map<T> dSm(dS.data(), p.nq, p.nk, Eigen::OuterStride<>(p.nk));
      dSm.noalias() = dO * V.transpose();
      // forward: P = softmax(S), so dS = P ∘ (dP - rowsum(P ∘ dP))
      for (int i = 0; i < p.nq; ++i) {
        T rowdot = 0;
        for (int j = 0; j < p.nk; ++j) rowdot += P[static_cast<size_t>(i) * p.nk + j] * dS[static_cast<size_t>(i) * p.nk + j];
        for (int j = 0; j < p.nk; ++j) {
          T& ds = dS[static_cast<size_t>(i) * p.nk + j];
          ds = P[static_cast<size_t>(i) * p.nk + j] * (ds - rowdot);
        }
      }
      // forward: S = scale·Q·Kᵀ + bias, so dQ = scale·dS·K and dK = scale·dSᵀ·Q
      Map<T>(dq, p.nq, D, Eigen::OuterStride<>(p.q_row_stride)).noalias() = scale * (dSm * K);
      Map<T>(dk, p.nk, D, Eigen::OuterStride<>(p.k_row_stride)).noalias() = scale * (dSm.transpose() * Q);
      if (table > 0) {
        // The bias enters S additively: d(bias_ij) = dS_ij, chained into the table.
        // Summed in double so the fp64 oracle's dbias is fp64-accurate.
        std::vector<double> part(table, 0.0);
        for (int i = 0; i < p.nq; ++i)
          for (int j = 0; j < p.nk; ++j)
            if (attn_visible(p.causal, p.q_offset + i, p.k_offset + j))
              attn_bias_param_grad(p.bias, h, static_cast<double>(p.q_offset + i - p.k_offset - j),
                                   dS[static_cast<size_t>(i) * p.nk + j], part.data());
        dbias_parts[static_cast<size_t>(b) * p.heads + h].assign(part.begin(), part.end());
      }
    }
  if (table > 0)
    for (const auto& part : dbias_parts)
      for (int64_t t = 0; t < table; ++t) g.dbias[t] += static_cast<float>(part[t]);
}

template <typename T>
void naive_statistics_cpu(const AttentionParams<T>& p, const AttentionStats& s) {
  const int64_t width = s.max_distance + 1;
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h) {
      std::vector<T> logits, raw, lse;
      head_logits(p, b, h, logits, &raw);
      std::vector<T> P = logits;
      softmax_rows(P, p.nq, p.nk, lse);
      float* ent = s.entropy + (static_cast<int64_t>(b) * p.heads + h) * p.nq;
      for (int i = 0; i < p.nq; ++i) {
        double e = 0;
        for (int j = 0; j < p.nk; ++j) {
          const int64_t n = p.q_offset + i - p.k_offset - j;
          const size_t at = static_cast<size_t>(i) * p.nk + j;
          if (!attn_visible(p.causal, p.q_offset + i, p.k_offset + j)) continue;
          if (P[at] > 0) e -= static_cast<double>(P[at]) * std::log(static_cast<double>(P[at]));
          if (n < 0 || n > s.max_distance) continue;
          s.score_sum[h * width + n] += raw[at];
          s.logit_sum[h * width + n] += logits[at];
          s.prob_sum[h * width + n] += P[at];
          s.count[h * width + n] += 1;
        }
        ent[i] = static_cast<float>(e);
      }
    }
}

template void naive_forward_cpu<float>(const AttentionParams<float>&);
template void naive_forward_cpu<double>(const AttentionParams<double>&);
template void naive_backward_cpu<float>(const AttentionParams<float>&, const AttentionGrads<float>&);
template void naive_backward_cpu<double>(const AttentionParams<double>&, const AttentionGrads<double>&);
template void naive_statistics_cpu<float>(const AttentionParams<float>&, const AttentionStats&);
template void naive_statistics_cpu<double>(const AttentionParams<double>&, const AttentionStats&);

}  // namespace pelab
