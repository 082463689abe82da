// Option groups shared by subcommands, and their conversion into the structs
// the library takes. A subcommand lists the groups it needs in commands.cc.
#pragma once

#include <vector>

#include "datasets/batcher.h"
#include "datasets/corpus.h"
#include "datasets/dataset.h"
#include "encodings/pe_spec.h"
#include "cli/cli.h"
#include "experiments/train_options.h"
#include "model/config.h"
#include "model/optimizer.h"

namespace pelab::cli {

// Every variant that --pe, --pe.base, --pe.scaling and --pe.factor (all comma
// lists) describe: the product of their items, for the RoPE family; one spec
// per other encoding. Each spec is validated against head_dim and heads.
std::vector<PeSpec> pe_variants(const Context& ctx, int head_dim, int heads);

// The data group (--data.*): the document split of `pelab data prepare`, the
// single-file document size, and the batcher for training at context `length`
// with `seed` (the synthetic task and rate come from --data.synthetic*).
data::SplitOptions split_options(const Context& ctx);
data::TextOptions text_options(const Context& ctx);
data::BatcherOptions batcher_options(const Context& ctx, int64_t length, uint64_t seed);

// The model group (--model.*) plus --pe and --pe.* (exactly one variant) and
// --train.seed (the initialisation seed), validated.
ModelConfig model_config(const Context& ctx);

// The train group (--train.*), validated. steps comes from --train.tokens
// when that is > 0; schedule.total_steps = steps.
TrainOptions train_options(const Context& ctx);

// Whether --<key> (a --pe.* option) is a setting without trained parameters
// of a model trained with `kind`, so a trained model may change it: RoPE/xPos
// base and scaling (and xPos's own settings), the ALiBi distance scale, the T5
// max distance. Evaluation (eval_time_pe) and train --init-from share the rule.
bool pe_setting_without_parameters(const std::string& key, PeKind kind);

// The encoding of a trained model with the eval-time changes given as --pe.*
// options (RoPE/xPos base and scaling, ALiBi distance scale, T5 max distance):
// only settings without parameters may change. `train_len` is the default
// --pe.original-length of a scaling. `changes` receives "key=value" items.
PeSpec eval_time_pe(const Context& ctx, const ModelConfig& trained, int64_t train_len, std::vector<std::string>* changes);

// The model a run was trained with, from its resolved configuration (a run
// folder's config.ini or a checkpoint's config_ini). `source` names it in errors.
ModelConfig model_config_from_ini(const std::string& ini, const std::string& source);

}  // namespace pelab::cli
