#include "experiments/options.h"

#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace pelab::cli {

namespace {

void add_pe_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("pe.base", s("10000"), "RoPE/xPos base b; a comma list gives one variant per base (e.g. 10000,500000)")
   ("pe.scaling", s("none"), "RoPE scaling: none|linear|ntk|dynamic-ntk|ntk-by-parts|yarn|llama3; comma list allowed")
   ("pe.factor", s("1"), "scale s = L'/L for the scaling; comma list allowed")
   ("pe.original-length", s("0"), "original (training) context L, needed by dynamic-ntk, ntk-by-parts, yarn, llama3")
   ("pe.low-freq-factor", s("1"), "llama3 low_freq_factor")
   ("pe.high-freq-factor", s("4"), "llama3 high_freq_factor")
   ("pe.beta-fast", s("32"), "yarn/ntk-by-parts: rotations per L above which a frequency is kept")
   ("pe.beta-slow", s("1"), "yarn/ntk-by-parts: rotations per L below which a frequency is divided by s")
   ("pe.attention-factor", s("0"), "yarn cos/sin multiplier; 0 means 0.1*ln(s)+1")
   ("pe.layout", s("half-split"), "RoPE pair layout: half-split (NeoX/Llama) | interleaved (RoFormer/GPT-J)")
   ("pe.xpos-gamma", s("0.4"), "xPos gamma in zeta_k = (2k + gamma*d)/((1+gamma)*d)")
   ("pe.xpos-scale-base", s("512"), "xPos exponent divisor (torchscale scale_base)")
   ("pe.alibi-distance-scale", s("1"), "ALiBi distance multiplier (<1 interpolates)")
   ("pe.t5-buckets", s("32"), "T5 relative-position buckets")
   ("pe.t5-max-distance", s("128"), "T5 distance from which all share the last bucket")
   ("pe.t5-bidirectional", s("false"), "T5 buckets for non-causal attention (true|false)")
   ("pe.kerple", s("log"), "KERPLE kernel: log (-b*ln(1+a*r^p)) | power (-a*r^p)")
   ("pe.kerple-a", s("1"), "KERPLE a, one value or one per head")
   ("pe.kerple-b", s("1"), "KERPLE b, one value or one per head")
   ("pe.kerple-p", s("1"), "KERPLE p in (0, 2], one value or one per head");
}

bool parse_bool(const std::string& s, const std::string& key) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw Error("invalid value '" + s + "' for --" + key + ": not a boolean", "write true or false");
}

int checked_int(const Context& ctx, const std::string& key, long long lo, long long hi) {
  long long v = ctx.integer(key);
  PELAB_CHECK(v >= lo && v <= hi, "--" << key << " must be in [" << lo << ", " << hi << "], got " << v,
              "run 'pelab help' with the subcommand for the meaning of --" << key);
  return static_cast<int>(v);
}

}  // namespace

const std::vector<OptionGroup>& option_groups() {
  static const std::vector<OptionGroup> groups = {
      {"pe", "Positional encoding", add_pe_options},
  };
  return groups;
}

std::vector<PeSpec> pe_variants(const Context& ctx, int head_dim, int heads) {
  PeSpec base_spec;
  RopeParams& r = base_spec.rope;
  r.dim = head_dim;
  r.original_length = checked_int(ctx, "pe.original-length", 0, 1 << 30);
  r.low_freq_factor = ctx.number("pe.low-freq-factor");
  r.high_freq_factor = ctx.number("pe.high-freq-factor");
  r.beta_fast = ctx.number("pe.beta-fast");
  r.beta_slow = ctx.number("pe.beta-slow");
  r.attention_factor = ctx.number("pe.attention-factor");
  PELAB_CHECK(r.attention_factor >= 0, "--pe.attention-factor must be >= 0", "0 picks YaRN's 0.1*ln(s)+1");
  r.layout = parse_rope_layout(ctx.str("pe.layout"));
  base_spec.xpos.gamma = ctx.number("pe.xpos-gamma");
  base_spec.xpos.scale_base = ctx.number("pe.xpos-scale-base");
  base_spec.alibi_distance_scale = ctx.number("pe.alibi-distance-scale");
  base_spec.t5.num_buckets = checked_int(ctx, "pe.t5-buckets", 2, 1 << 20);
  base_spec.t5.max_distance = checked_int(ctx, "pe.t5-max-distance", 1, 1 << 30);
  base_spec.t5.bidirectional = parse_bool(ctx.str("pe.t5-bidirectional"), "pe.t5-bidirectional");
  base_spec.kerple.kind = parse_kerple_kind(ctx.str("pe.kerple"));
  base_spec.kerple.a = ctx.numbers("pe.kerple-a");
  base_spec.kerple.b = ctx.numbers("pe.kerple-b");
  base_spec.kerple.p = ctx.numbers("pe.kerple-p");

  std::vector<RopeScaling> scalings;
  for (const auto& s : ctx.list("pe.scaling")) scalings.push_back(parse_rope_scaling(s));
  const auto bases = ctx.numbers("pe.base");
  const auto factors = ctx.numbers("pe.factor");

  std::vector<PeSpec> out;
  std::set<std::string> seen;
  auto push = [&](PeSpec s) {
    validate(s, head_dim, heads);
    if (seen.insert(s.label()).second) out.push_back(s);
  };
  for (const auto& name : ctx.list("pe")) {
    PeSpec spec = base_spec;
    spec.kind = parse_pe_kind(name);
    if (spec.family() != PeFamily::QK_TRANSFORM) {
      push(spec);
      continue;
    }
    for (double b : bases)
      for (RopeScaling sc : scalings)
        for (double f : factors) {
          spec.rope.base = b;
          spec.rope.scaling = sc;
          spec.rope.factor = sc == RopeScaling::NONE ? 1.0 : f;  // a factor means nothing unscaled
          push(spec);
        }
  }
  return out;
}

}  // namespace pelab::cli
