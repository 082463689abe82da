// Evaluation of a trained model far past its training length (reference §6):
//
//   nonoverlap  the text cut into consecutive chunks of L tokens, every token
//               scored (the ALiBi paper's main tables, arXiv 2108.12409);
//   sliding     windows of L tokens whose end advances by S, only the targets
//               past the previous window scored, the first window whole
//               (S = 1 is ALiBi's Appendix B; PI and YaRN use S = 256).
//
// Every length scores the same M targets: the text is cut to M + 1 tokens,
// M the largest multiple of the longest length that fits (and at most
// max_tokens); what is dropped is reported. Per length: the mean NLL (nats per
// byte), perplexity, bits per byte, the scored token count, and the mean loss
// by position in the window (summed over windows, with counts), the curve that
// shows where a model breaks. The model runs its evaluation forward (one
// layer's activations; flash attention, O(L) memory).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/hdf5_file.h"
#include "model/transformer.h"

namespace pelab {

enum class EvalProtocol { NONOVERLAP, SLIDING };
const char* to_string(EvalProtocol p);

struct EvalOptions {
  std::vector<int64_t> lengths;           // ascending, distinct, >= 1
  std::vector<EvalProtocol> protocols;    // one or both
  int64_t stride = 256;                   // sliding: 1 <= stride <= every length
  int64_t max_tokens = 0;                 // > 0: score at most this many targets
  int64_t batch_tokens = 16384;           // windows of one length are batched up to this many tokens
  bool quiet = false;                     // no progress line
};

// A token stream to score: a split's documents concatenated (as training
// reads them) or the bytes of any file.
struct EvalText {
  std::vector<uint8_t> tokens;
  std::string source;    // "dataset data/kjv split test" or "file notes.txt"
  std::string checksum;  // fnv1a64 of the tokens
};

struct LengthResult {
  int64_t length = 0;
  double nll_sum = 0;                // Σ NLL over scored targets (nats)
  int64_t count = 0;                 // scored targets
  int64_t computed = 0;              // tokens run through the model (sliding: > count)
  std::vector<double> pos_sum;       // (L) Σ NLL at window position t
  std::vector<int64_t> pos_count;    // (L) scored targets at window position t
  // Per window, what an interval resamples (experiments/statistics.h): the
  // text offset of its first scored target, its Σ NLL and its scored targets.
  std::vector<int64_t> window_offset, window_tokens;
  std::vector<double> window_nll;
  double seconds = 0;
  double flops = 0;                  // forward FLOPs (eval_flops)

  double nll() const { return count ? nll_sum / static_cast<double>(count) : 0.0; }
};

struct ProtocolResult {
  EvalProtocol protocol = EvalProtocol::NONOVERLAP;
  std::vector<LengthResult> lengths;
};

struct EvalReport {
  int64_t scored = 0;    // M targets per length and protocol
  int64_t dropped = 0;   // tokens of the text not used
  std::vector<ProtocolResult> protocols;
};

// Forward FLOPs of one window of T tokens: 2·P per token (every parameter
// multiplies once per token; the tied head counts once) plus attention by the
// FlashAttention convention, 4·T²·C per layer halved for the causal mask.
double eval_flops(const ModelConfig& cfg, int64_t parameters, int64_t T);

// Checks the options against the text (lengths, stride, enough tokens) and
// scores it. Throws pelab::Error naming the option for bad values.
EvalReport evaluate_text(Model& model, const EvalText& text, const EvalOptions& opt);

// Writes one protocol's results into `g`: lengths, ppl, nll, bpb, tokens,
// seconds, loss_by_position/<L>, and per window window_offset/<L>,
// window_nll/<L> (Σ NLL, nats) and window_tokens/<L> (docs/hdf5-schema.md "pelab eval").
void write_protocol_result(h5::Group& g, const ProtocolResult& r);

}  // namespace pelab
