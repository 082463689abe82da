#include "encodings/pe_spec.h"

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"

namespace pelab {

namespace {

template <typename E>
struct NameTable {
  std::vector<std::pair<std::string, E>> entries;
  E parse(const std::string& s, const std::string& option) const {
    for (const auto& [name, value] : entries)
      if (name == s) return value;
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.first);
    throw Error("unknown " + option + " '" + s + "'", "choose one of: " + join(names, ", "));
  }
  std::string name(E v) const {
    for (const auto& [name, value] : entries)
      if (value == v) return name;
    return "?";
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.first);
    return out;
  }
};

const NameTable<PeKind>& pe_kinds() {
  static const NameTable<PeKind> t{{{"none", PeKind::NONE}, {"sinusoidal", PeKind::SINUSOIDAL},
                                    {"learned", PeKind::LEARNED}, {"rope", PeKind::ROPE},
                                    {"xpos", PeKind::XPOS}, {"alibi", PeKind::ALIBI},
                                    {"t5", PeKind::T5}, {"kerple", PeKind::KERPLE}}};
  return t;
}

const NameTable<RopeScaling>& scalings() {
  static const NameTable<RopeScaling> t{{{"none", RopeScaling::NONE}, {"linear", RopeScaling::LINEAR},
                                         {"ntk", RopeScaling::NTK}, {"dynamic-ntk", RopeScaling::DYNAMIC_NTK},
                                         {"ntk-by-parts", RopeScaling::NTK_BY_PARTS}, {"yarn", RopeScaling::YARN},
                                         {"llama3", RopeScaling::LLAMA3}}};
  return t;
}

const NameTable<RopeLayout>& layouts() {
  static const NameTable<RopeLayout> t{{{"half-split", RopeLayout::HALF_SPLIT}, {"interleaved", RopeLayout::INTERLEAVED}}};
  return t;
}

const NameTable<KerpleKind>& kerple_kinds() {
  static const NameTable<KerpleKind> t{{{"log", KerpleKind::LOG}, {"power", KerpleKind::POWER}}};
  return t;
}

}  // namespace

PeKind parse_pe_kind(const std::string& s) { return pe_kinds().parse(s, "--pe"); }
RopeScaling parse_rope_scaling(const std::string& s) { return scalings().parse(s, "--pe.scaling"); }
RopeLayout parse_rope_layout(const std::string& s) { return layouts().parse(s, "--pe.layout"); }
KerpleKind parse_kerple_kind(const std::string& s) { return kerple_kinds().parse(s, "--pe.kerple"); }
std::string to_string(PeKind k) { return pe_kinds().name(k); }
std::string to_string(RopeScaling s) { return scalings().name(s); }
std::string to_string(RopeLayout l) { return layouts().name(l); }
std::string to_string(KerpleKind k) { return kerple_kinds().name(k); }

std::string to_string(PeFamily f) {
  switch (f) {
    case PeFamily::ABSOLUTE: return "absolute";
    case PeFamily::QK_TRANSFORM: return "qk_transform";
    case PeFamily::SCORE_BIAS: return "score_bias";
  }
  return "?";
}

const std::vector<std::string>& pe_kind_names() {
  static const auto v = pe_kinds().names();
  return v;
}
const std::vector<std::string>& rope_scaling_names() {
  static const auto v = scalings().names();
  return v;
}

PeFamily PeSpec::family() const {
  switch (kind) {
    case PeKind::ROPE:
    case PeKind::XPOS: return PeFamily::QK_TRANSFORM;
    case PeKind::ALIBI:
    case PeKind::T5:
    case PeKind::KERPLE: return PeFamily::SCORE_BIAS;
    default: return PeFamily::ABSOLUTE;
  }
}

std::string PeSpec::label() const {
  std::string s = to_string(kind);
  if (family() == PeFamily::QK_TRANSFORM) {
    s += "_b" + format_number(rope.base);
    if (rope.scaling != RopeScaling::NONE) {
      s += "_" + to_string(rope.scaling) + "_s" + format_number(rope.factor);
      if (rope.original_length > 0 && rope.scaling != RopeScaling::LINEAR && rope.scaling != RopeScaling::NTK)
        s += "_L" + std::to_string(rope.original_length);
    }
  } else if (kind == PeKind::ALIBI && alibi_distance_scale != 1.0) {
    s += "_dscale" + format_number(alibi_distance_scale);
  } else if (kind == PeKind::KERPLE) {
    s += "_" + to_string(kerple.kind);
  }
  return s;
}

void validate(const PeSpec& spec, int head_dim, int heads) {
  PELAB_CHECK(head_dim > 0, "head dim must be positive, got " << head_dim, "pass --head-dim 64 or another positive even number");
  PELAB_CHECK(heads > 0, "head count must be positive, got " << heads, "pass --heads 8 or another positive number");
  if (spec.family() == PeFamily::QK_TRANSFORM) {
    const RopeParams& r = spec.rope;
    PELAB_CHECK(head_dim % 2 == 0, to_string(spec.kind) << " rotates pairs of dims, so the head dim must be even, got " << head_dim,
                "use an even --head-dim such as 64 or 128");
    PELAB_CHECK(head_dim >= 4 || r.scaling != RopeScaling::NTK, "NTK scaling needs a head dim of at least 4 (exponent d/(d-2))",
                "use a larger --head-dim");
    PELAB_CHECK(r.base > 1.0, "--pe.base must be greater than 1, got " << r.base, "use 10000 or 500000");
    if (r.scaling != RopeScaling::NONE) {
      PELAB_CHECK(r.factor >= 1.0, "--pe.factor must be at least 1 for scaling '" << to_string(r.scaling) << "', got " << r.factor,
                  "give the length ratio s = L'/L, e.g. --pe.factor 4");
    }
    bool needs_length = r.scaling == RopeScaling::DYNAMIC_NTK || r.scaling == RopeScaling::NTK_BY_PARTS ||
                        r.scaling == RopeScaling::YARN || r.scaling == RopeScaling::LLAMA3;
    PELAB_CHECK(!needs_length || r.original_length > 0,
                "scaling '" << to_string(r.scaling) << "' needs the original (training) context length",
                "pass --pe.original-length, e.g. 2048");
    if (r.scaling == RopeScaling::YARN || r.scaling == RopeScaling::NTK_BY_PARTS)
      PELAB_CHECK(r.beta_fast > r.beta_slow && r.beta_slow > 0, "--pe.beta-fast must exceed --pe.beta-slow > 0, got "
                                                                    << r.beta_fast << " and " << r.beta_slow,
                  "the defaults are 32 and 1");
    if (r.scaling == RopeScaling::LLAMA3)
      PELAB_CHECK(r.high_freq_factor > r.low_freq_factor && r.low_freq_factor > 0,
                  "--pe.high-freq-factor must exceed --pe.low-freq-factor > 0", "the Llama 3.1 values are 4 and 1");
    if (spec.kind == PeKind::XPOS) {
      PELAB_CHECK(spec.xpos.gamma >= 0, "--pe.xpos-gamma must be >= 0", "the reference value is 0.4");
      PELAB_CHECK(spec.xpos.scale_base > 0, "--pe.xpos-scale-base must be positive", "the reference value is 512");
    }
  }
  if (spec.kind == PeKind::SINUSOIDAL)
    PELAB_CHECK(head_dim % 2 == 0, "sinusoidal encodings pair sin and cos, so the dimension must be even, got " << head_dim,
                "use an even --head-dim");
  if (spec.kind == PeKind::ALIBI)
    PELAB_CHECK(spec.alibi_distance_scale > 0, "--pe.alibi-distance-scale must be positive", "1 is plain ALiBi");
  if (spec.kind == PeKind::T5) {
    PELAB_CHECK(spec.t5.num_buckets >= 2 + 2 * spec.t5.bidirectional, "--pe.t5-buckets is too small", "the T5 default is 32");
    int exact = (spec.t5.bidirectional ? spec.t5.num_buckets / 2 : spec.t5.num_buckets) / 2;
    PELAB_CHECK(spec.t5.max_distance > exact, "--pe.t5-max-distance must exceed the exact buckets (" << exact << ")",
                "the T5 default is 128");
  }
  if (spec.kind == PeKind::KERPLE) {
    for (const auto* v : {&spec.kerple.a, &spec.kerple.b, &spec.kerple.p}) {
      PELAB_CHECK(v->size() == 1 || static_cast<int>(v->size()) == heads,
                  "KERPLE parameters need one value or one per head (" << heads << "), got " << v->size(),
                  "give --pe.kerple-a/-b/-p as one number or a comma list of --heads numbers");
      for (double x : *v) PELAB_CHECK(x > 0, "KERPLE parameters must be positive, got " << x, "e.g. --pe.kerple-a 1");
    }
    for (double p : spec.kerple.p) PELAB_CHECK(p <= 2, "KERPLE power p must be in (0, 2], got " << p, "e.g. --pe.kerple-p 1");
  }
}

}  // namespace pelab
