#include "cli/options.h"

#include <memory>
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

void add_data_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("data.dir", s(""), "prepared data folder (holding dataset.h5, from pelab data prepare)")
   ("data.val-fraction", s("0.05"), "share of tokens for validation documents (at least one document)")
   ("data.test-fraction", s("0.05"), "share of tokens for test documents (at least one document)")
   ("data.split-seed", s("1"), "seed of the document shuffle that assigns documents to train/val/test")
   ("data.doc-bytes", s("65536"), "single-file corpus: cut into documents of about this many bytes at blank lines")
   ("data.dedup-words", s("13"), "prepare: remove val and test lines sharing a run of this many consecutive words with the "
                                 "train split (parallel passages; 0: keep them whole)")
   ("data.synthetic", s("none"), "synthetic task mixed into training batches: none|passkey|copy|mqar")
   ("data.synthetic-rate", s("0"), "probability that a training row is a synthetic example instead of corpus text")
   ("data.copy-min", s("1"), "copy rows: shortest payload, in bytes (rows are packed with examples 'P|P\\n', payloads uniform in [min, max])")
   ("data.copy-max", s("0"), "copy rows: longest payload, in bytes (0: the longest one row holds, (T - 1) / 2)");
}

void add_model_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("model.d-model", s("128"), "model width C (d_model)")
   ("model.n-layers", s("2"), "number of transformer blocks L")
   ("model.n-heads", s("4"), "attention heads H; must divide d_model (head dim = d_model / H), 1 allowed")
   ("model.mlp-ratio", s("4"), "MLP hidden width as a multiple of d_model")
   ("model.norm", s("layernorm"), "pre-norm of each block and the final norm: layernorm|rmsnorm|none")
   ("model.qk-proj", s("linear"), "linear: q = x.Wq, k = x.Wk; none: q = k = the block's normalized input")
   ("model.max-len", s("1024"), "rows of the learned absolute position table (--pe learned only)");
}

void add_train_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("train.length", s("256"), "context T: tokens per training row")
   ("train.steps", s("1000"), "optimizer steps (the cosine schedule ends here)")
   ("train.tokens", s("0"), "if > 0: train on this many tokens instead, steps = ceil(tokens / (batch * length))")
   ("train.batch", s("16"), "rows per step B (tokens per step = B * T)")
   ("train.lr", s("1e-3"), "peak learning rate (after warmup)")
   ("train.min-lr", s("1e-4"), "learning rate at the end of the cosine decay")
   ("train.warmup", s("100"), "linear warmup steps")
   ("train.weight-decay", s("0.1"), "AdamW decoupled weight decay on matrices (0 for none)")
   ("train.beta1", s("0.9"), "AdamW beta1")
   ("train.beta2", s("0.95"), "AdamW beta2")
   ("train.eps", s("1e-8"), "AdamW epsilon")
   ("train.grad-clip", s("1.0"), "clip the global gradient norm to this (0: no clipping)")
   ("train.seed", s("1"), "seed of the parameter initialisation and of the batch sampler")
   ("train.eval-every", s("100"), "validation loss every this many steps (and at step 0 and the end)")
   ("train.eval-batches", s("16"), "validation set: eval-batches * batch fixed windows of T tokens, evenly spaced over val")
   ("train.checkpoint-every", s("500"), "write checkpoint.h5 every this many steps (and at the end)")
   ("train.log-every", s("10"), "progress line, log.txt line and run.h5 rewrite every this many steps")
   ("train.stop-at", s("0"), "if > 0: stop after this step with a checkpoint (resume later); the schedule still ends at --train.steps")
   ("train.threads", s("0"), "OpenMP threads (0: all); runs are bit-identical for the same thread count");
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
      {"data", "Data", add_data_options},
      {"model", "Model", add_model_options},
      {"train", "Training", add_train_options},
  };
  return groups;
}

data::SplitOptions split_options(const Context& ctx) {
  data::SplitOptions o;
  o.val_fraction = ctx.number("data.val-fraction");
  o.test_fraction = ctx.number("data.test-fraction");
  const long long seed = ctx.integer("data.split-seed");
  PELAB_CHECK(seed >= 0, "--data.split-seed must be >= 0, got " << seed, "e.g. --data.split-seed 1");
  o.seed = static_cast<uint64_t>(seed);
  data::validate(o);
  return o;
}

data::TextOptions text_options(const Context& ctx) {
  data::TextOptions o;
  o.doc_bytes = ctx.integer("data.doc-bytes");
  PELAB_CHECK(o.doc_bytes >= 1, "--data.doc-bytes must be >= 1, got " << o.doc_bytes, "e.g. --data.doc-bytes 65536");
  return o;
}

data::BatcherOptions batcher_options(const Context& ctx, int64_t length, uint64_t seed) {
  data::BatcherOptions o;
  o.length = length;
  o.seed = seed;
  o.synthetic = data::parse_synthetic_task(ctx.str("data.synthetic"));
  o.synthetic_rate = ctx.number("data.synthetic-rate");
  PELAB_CHECK(o.synthetic_rate >= 0 && o.synthetic_rate <= 1, "--data.synthetic-rate must be in [0, 1], got " << o.synthetic_rate,
              "e.g. --data.synthetic-rate 0.1");
  PELAB_CHECK(o.synthetic != data::SyntheticTask::NONE || o.synthetic_rate == 0,
              "--data.synthetic-rate " << o.synthetic_rate << " without a task", "add --data.synthetic passkey|copy|mqar");
  o.copy_min = checked_int(ctx, "data.copy-min", 1, 1 << 30);
  o.copy_max = checked_int(ctx, "data.copy-max", 0, 1 << 30);
  return o;
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

ModelConfig model_config(const Context& ctx) {
  ModelConfig c;
  c.d_model = checked_int(ctx, "model.d-model", 1, 1 << 16);
  c.n_layers = checked_int(ctx, "model.n-layers", 1, 1024);
  c.n_heads = checked_int(ctx, "model.n-heads", 1, 4096);
  c.mlp_ratio = checked_int(ctx, "model.mlp-ratio", 1, 64);
  c.norm = parse_norm_kind(ctx.str("model.norm"));
  c.qk_proj = parse_qk_proj(ctx.str("model.qk-proj"));
  c.max_len = checked_int(ctx, "model.max-len", 1, 1 << 24);
  PELAB_CHECK(c.d_model % c.n_heads == 0,
              "--model.n-heads " << c.n_heads << " does not divide --model.d-model " << c.d_model,
              "the head dim is d_model / n_heads: choose a divisor");
  PELAB_CHECK(ctx.has("pe"), "missing --pe", "choose one encoding, e.g. --pe rope (or pe = rope in the config file)");
  const std::vector<PeSpec> specs = pe_variants(ctx, c.head_dim(), c.n_heads);
  PELAB_CHECK(specs.size() == 1, "--pe and --pe.base/--pe.scaling/--pe.factor describe " << specs.size()
                                     << " variants; a model has exactly one encoding",
              "give one value each (comma lists are for pelab decay and evaluation)");
  c.pe = specs[0];
  if (ctx.has("train.seed")) c.seed = static_cast<uint64_t>(checked_int(ctx, "train.seed", 0, 2147483647));
  validate(c);
  return c;
}

TrainOptions train_options(const Context& ctx) {
  TrainOptions t;
  t.length = checked_int(ctx, "train.length", 1, 1 << 24);
  t.batch = checked_int(ctx, "train.batch", 1, 1 << 20);
  const long long tokens = ctx.integer("train.tokens");
  PELAB_CHECK(tokens >= 0, "--train.tokens must be >= 0, got " << tokens, "0 means: use --train.steps");
  if (tokens > 0) t.steps = (tokens + t.batch * t.length - 1) / (t.batch * t.length);
  else t.steps = checked_int(ctx, "train.steps", 1, 2000000000);
  t.seed = static_cast<uint64_t>(checked_int(ctx, "train.seed", 0, 2147483647));
  t.grad_clip = ctx.number("train.grad-clip");
  PELAB_CHECK(t.grad_clip >= 0, "--train.grad-clip must be >= 0, got " << t.grad_clip, "0 turns clipping off");
  t.eval_every = checked_int(ctx, "train.eval-every", 1, 2000000000);
  t.eval_batches = checked_int(ctx, "train.eval-batches", 0, 1 << 20);
  t.checkpoint_every = checked_int(ctx, "train.checkpoint-every", 1, 2000000000);
  t.log_every = checked_int(ctx, "train.log-every", 1, 2000000000);
  t.stop_at = checked_int(ctx, "train.stop-at", 0, 2000000000);
  t.threads = checked_int(ctx, "train.threads", 0, 4096);
  t.adamw.beta1 = ctx.number("train.beta1");
  t.adamw.beta2 = ctx.number("train.beta2");
  t.adamw.eps = ctx.number("train.eps");
  t.adamw.weight_decay = ctx.number("train.weight-decay");
  validate(t.adamw);
  t.schedule.peak_lr = ctx.number("train.lr");
  t.schedule.min_lr = ctx.number("train.min-lr");
  t.schedule.warmup_steps = checked_int(ctx, "train.warmup", 0, 2000000000);
  t.schedule.total_steps = t.steps;
  validate(t.schedule);
  return t;
}

}  // namespace pelab::cli

namespace pelab::cli {

bool pe_setting_without_parameters(const std::string& key, PeKind kind) {
  static const std::set<std::string> rope_keys = {"pe.base", "pe.scaling", "pe.factor", "pe.original-length",
                                                  "pe.low-freq-factor", "pe.high-freq-factor", "pe.beta-fast",
                                                  "pe.beta-slow", "pe.attention-factor", "pe.xpos-gamma",
                                                  "pe.xpos-scale-base"};
  PeSpec spec;
  spec.kind = kind;
  return (spec.family() == PeFamily::QK_TRANSFORM && rope_keys.count(key) &&
          (kind == PeKind::XPOS || key.rfind("pe.xpos", 0) != 0)) ||
         (kind == PeKind::ALIBI && key == "pe.alibi-distance-scale") ||
         (kind == PeKind::T5 && key == "pe.t5-max-distance");
}

PeSpec eval_time_pe(const Context& ctx, const ModelConfig& trained, int64_t train_len, std::vector<std::string>* changes) {
  PeSpec pe = trained.pe;
  if (ctx.given("pe")) {
    const PeKind kind = parse_pe_kind(ctx.str("pe"));
    PELAB_CHECK(kind == pe.kind, "this run was trained with --pe " << to_string(pe.kind) << ", not " << ctx.str("pe"),
                "an evaluation changes only settings without parameters; evaluate a run trained with --pe "
                    << ctx.str("pe") << " instead");
  }
  std::unique_ptr<CommandOptions> all = command_options("eval");
  for (const auto& opt : all->all.options()) {
    const std::string& key = opt->long_name();
    if (key.rfind("pe.", 0) != 0 || !ctx.given(key)) continue;
    PELAB_CHECK(pe_setting_without_parameters(key, pe.kind), "--" << key << " cannot change a model trained with --pe " << to_string(pe.kind)
                         << " (it has no such setting, or the setting has trained parameters)",
                "at evaluation time: RoPE/xPos base and --pe.scaling/--pe.factor..., ALiBi --pe.alibi-distance-scale, "
                "T5 --pe.t5-max-distance");
    PELAB_CHECK(ctx.str(key).find(',') == std::string::npos, "--" << key << " takes one value at evaluation time",
                "run one evaluation (one --label) per variant");
    if (changes) changes->push_back(key.substr(3) + "=" + ctx.str(key));
  }
  RopeParams& r = pe.rope;
  if (ctx.given("pe.base")) r.base = ctx.number("pe.base");
  if (ctx.given("pe.scaling")) r.scaling = parse_rope_scaling(ctx.str("pe.scaling"));
  if (ctx.given("pe.factor")) r.factor = ctx.number("pe.factor");
  if (ctx.given("pe.original-length")) r.original_length = checked_int(ctx, "pe.original-length", 0, 1 << 30);
  else if (r.scaling != RopeScaling::NONE && r.original_length == 0) r.original_length = static_cast<int>(train_len);
  if (ctx.given("pe.low-freq-factor")) r.low_freq_factor = ctx.number("pe.low-freq-factor");
  if (ctx.given("pe.high-freq-factor")) r.high_freq_factor = ctx.number("pe.high-freq-factor");
  if (ctx.given("pe.beta-fast")) r.beta_fast = ctx.number("pe.beta-fast");
  if (ctx.given("pe.beta-slow")) r.beta_slow = ctx.number("pe.beta-slow");
  if (ctx.given("pe.attention-factor")) r.attention_factor = ctx.number("pe.attention-factor");
  if (ctx.given("pe.xpos-gamma")) pe.xpos.gamma = ctx.number("pe.xpos-gamma");
  if (ctx.given("pe.xpos-scale-base")) pe.xpos.scale_base = ctx.number("pe.xpos-scale-base");
  if (ctx.given("pe.alibi-distance-scale")) pe.alibi_distance_scale = ctx.number("pe.alibi-distance-scale");
  if (ctx.given("pe.t5-max-distance")) pe.t5.max_distance = checked_int(ctx, "pe.t5-max-distance", 1, 1 << 30);
  if (r.scaling == RopeScaling::NONE) r.factor = 1.0;
  validate(pe, trained.head_dim(), trained.n_heads);
  return pe;
}

ModelConfig model_config_from_ini(const std::string& ini, const std::string& source) {
  std::unique_ptr<CommandOptions> desc = command_options("train");
  po::variables_map vm;
  store_ini(parse_ini(ini, source), source, desc->all, vm, /*allow_unknown=*/true);
  po::notify(vm);
  const Context ctx({"pelab", "train"}, std::move(vm), &desc->all);
  try {
    return model_config(ctx);
  } catch (const Error& e) {
    throw Error(source + " does not describe a model pelab can build (" + e.what() + ")",
                "the run folder is damaged or from an incompatible pelab version");
  }
}

}  // namespace pelab::cli
