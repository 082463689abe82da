// What positional encoding a model or a curve uses, with every parameter of
// its family. The CLI fills one PeSpec per variant from --pe and --pe.*.
#pragma once

#include <string>
#include <vector>

#include "encodings/bias_math.h"
#include "encodings/rope_math.h"
#include "encodings/xpos_math.h"

namespace pelab {

// The three hook points of DESIGN.md.
enum class PeFamily { ABSOLUTE, QK_TRANSFORM, SCORE_BIAS };

enum class PeKind { NONE, SINUSOIDAL, LEARNED, ROPE, XPOS, ALIBI, T5, KERPLE };

struct T5Params {
  int num_buckets = 32;     // mesh-tensorflow default
  int max_distance = 128;   // every distance >= this shares the last bucket
  bool bidirectional = false;
};

struct KerpleParams {
  KerpleKind kind = KerpleKind::LOG;
  // Per-head values; one value applies to every head. Trained values replace
  // them in a model; these are what `pelab decay` draws.
  std::vector<double> a{1.0}, b{1.0}, p{1.0};
};

struct PeSpec {
  PeKind kind = PeKind::NONE;
  RopeParams rope;               // ROPE and XPOS (xPos rotates like RoPE, then scales)
  XposParams xpos;               // XPOS
  double alibi_distance_scale = 1.0;
  T5Params t5;
  KerpleParams kerple;

  PeFamily family() const;
  // A short stable label for result groups: "rope_b10000", "rope_b10000_yarn_s4_L2048", "alibi".
  std::string label() const;
};

PeKind parse_pe_kind(const std::string& s);
RopeScaling parse_rope_scaling(const std::string& s);
RopeLayout parse_rope_layout(const std::string& s);
KerpleKind parse_kerple_kind(const std::string& s);
std::string to_string(PeKind k);
std::string to_string(PeFamily f);
std::string to_string(RopeScaling s);
std::string to_string(RopeLayout l);
std::string to_string(KerpleKind k);

// The names accepted by parse_pe_kind / parse_rope_scaling, for help texts.
const std::vector<std::string>& pe_kind_names();
const std::vector<std::string>& rope_scaling_names();

// Checks a spec against a head dim and head count; throws pelab::Error with a
// hint naming the option to change (odd head dim for RoPE, scaling without
// original length, ...).
void validate(const PeSpec& spec, int head_dim, int heads);

}  // namespace pelab
