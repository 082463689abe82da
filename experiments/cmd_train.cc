// `pelab train`: train one byte-level causal LM on a prepared dataset, with
// logs in RUN/run.h5, checkpoints in RUN/checkpoint.h5, a plain RUN/log.txt and
// the resolved configuration in RUN/config.ini (docs/hdf5-schema.md "pelab
// train"). `pelab train --resume RUN` continues from the checkpoint.
//
// Every file of the run folder is written to a temporary name and renamed, so
// a crash never leaves a half-written file: the log arrays are kept in memory
// and run.h5 (small) is rewritten at each log, eval and checkpoint point; on
// resume it is read back, cut to the checkpoint's step, and continued.
//
// Exactness: a checkpoint holds the parameters, the AdamW moments and step,
// the batcher state (its RNG and counters) and the step, so a run stopped at
// step k and resumed logs bit for bit the losses of a run straight through,
// given the same thread count (the model's reductions are deterministic for a
// fixed thread count).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <new>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <unistd.h>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/progress.h"
#include "core/provenance.h"
#include "core/strings.h"
#include "datasets/batcher.h"
#include "datasets/dataset.h"
#include "experiments/cli.h"
#include "experiments/options.h"
#include "model/optimizer.h"
#include "model/transformer.h"


namespace pelab::cli {

namespace fs = std::filesystem;

void train_command_options(po::options_description_easy_init& o) {
  o("pe", po::value<std::string>()->default_value("rope"),
    "positional encoding: rope|xpos|alibi|sinusoidal|learned|t5|kerple|none (one; settings in --pe.*)")
   ("out", po::value<std::string>(), "run folder to create (missing or empty); holds config.ini, run.h5, checkpoint.h5, log.txt")
   ("resume", po::value<std::string>(), "run folder to continue from its checkpoint.h5 (may raise --train.steps)")
   ("quiet", po::bool_switch(), "no progress line on stderr");
}

namespace {

constexpr const char* kRunFile = "run.h5";
constexpr const char* kCheckpointFile = "checkpoint.h5";
constexpr const char* kConfigFile = "config.ini";
constexpr const char* kLogFile = "log.txt";

// Options that a resume may change: length of the run, logging cadence,
// threads (results then differ in the last bits), the data folder's path (the
// data itself is checked by checksum), and per-invocation switches.
const std::set<std::string> kResumeMayChange = {
    "train.steps", "train.tokens", "train.log-every", "train.eval-every", "train.checkpoint-every",
    "train.stop-at", "train.threads", "data.dir", "quiet", "resume", "out", "config", "help"};
// Not carried over from the checkpoint's configuration into a resumed run.
const std::set<std::string> kNotInherited = {"train.stop-at", "quiet", "resume", "out"};

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

// ------------------------------------------------------------ small helpers

void write_text_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    PELAB_CHECK(out.good(), "cannot write '" << tmp.string() << "'", "check the free disk space and permissions");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    PELAB_FAIL("cannot rename '" << tmp.string() << "' to '" << path.string() << "'", "check the folder's permissions");
  }
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// INI text ("key = value", "[section]", '#' comments) -> "section.key" -> value.
std::map<std::string, std::string> parse_ini(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line, section;
  auto trim = [](std::string s) {
    const char* ws = " \t\r";
    s.erase(0, s.find_first_not_of(ws));
    const size_t e = s.find_last_not_of(ws);
    s.erase(e == std::string::npos ? 0 : e + 1);
    return s;
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    kv[section.empty() ? key : section + "." + key] = trim(line.substr(eq + 1));
  }
  return kv;
}

std::string to_ini(const std::map<std::string, std::string>& kv) {
  std::string global, sections;
  std::string current;
  for (const auto& [k, v] : kv) {
    const size_t dot = k.find('.');
    if (dot == std::string::npos) global += k + " = " + v + "\n";
  }
  for (const auto& [k, v] : kv) {
    const size_t dot = k.find('.');
    if (dot == std::string::npos) continue;
    const std::string sec = k.substr(0, dot);
    if (sec != current) {
      sections += "\n[" + sec + "]\n";
      current = sec;
    }
    sections += k.substr(dot + 1) + " = " + v + "\n";
  }
  return global + sections;
}

bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  char* ea = nullptr;
  char* eb = nullptr;
  const double x = std::strtod(a.c_str(), &ea), y = std::strtod(b.c_str(), &eb);
  return !a.empty() && !b.empty() && *ea == '\0' && *eb == '\0' && x == y;
}

std::string any_to_string(const boost::any& v) {
  if (auto* s = boost::any_cast<std::string>(&v)) return *s;
  if (auto* b = boost::any_cast<bool>(&v)) return *b ? "true" : "false";
  return {};
}

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

template <typename T>
uint64_t hash_floats(const T* p, int64_t n, uint64_t h = data::kFnvOffset) {
  return data::fnv1a64(reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(n) * sizeof(T), h);
}

template <typename T>
bool all_finite(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// ------------------------------------------------------------ description for --resume

// The options of `pelab train` as cli.cc builds them (common, own, groups),
// kept alive for the Context that points at it.
struct Description {
  po::options_description all;
  std::vector<po::options_description> parts;
};

std::unique_ptr<Description> train_description() {
  auto d = std::make_unique<Description>();
  const Command* cmd = nullptr;
  for (const auto& c : commands())
    if (c.name == "train") cmd = &c;
  PELAB_CHECK(cmd, "internal: no 'train' command", "this is a bug in pelab");
  d->parts.emplace_back("Common options");
  d->parts.back().add_options()("help,h", po::bool_switch(), "show this help")(
      "config", po::value<std::string>(), "INI file with defaults; the command line overrides it");
  d->parts.emplace_back("train");
  {
    auto init = d->parts.back().add_options();
    cmd->add_options(init);
  }
  for (const auto& prefix : cmd->groups)
    for (const auto& g : option_groups())
      if (g.prefix == prefix) {
        d->parts.emplace_back(g.prefix);
        auto init = d->parts.back().add_options();
        g.add(init);
      }
  for (const auto& p : d->parts) d->all.add(p);
  return d;
}

// ------------------------------------------------------------ logs and checkpoints

struct Logs {
  std::vector<int64_t> step;
  std::vector<double> loss, lr, grad_norm, tokens_per_s;
  std::vector<int64_t> val_step;
  std::vector<double> val_loss;
  std::vector<int64_t> resumed_at;
  double seconds = 0;  // training wall time before this invocation

  void truncate(int64_t last_step) {
    size_t n = 0;
    while (n < step.size() && step[n] <= last_step) ++n;
    step.resize(n), loss.resize(n), lr.resize(n), grad_norm.resize(n), tokens_per_s.resize(n);
    size_t m = 0;
    while (m < val_step.size() && val_step[m] <= last_step) ++m;
    val_step.resize(m), val_loss.resize(m);
  }
};

struct Checkpoint {
  int64_t step = 0;
  int64_t optimizer_step = 0;
  data::BatcherState batcher;
  std::string config_ini;
  std::string dataset_checksum;
  int64_t threads = 0;
  double seconds = 0;
  std::vector<float> params, m, v;
};

struct RunInfo {
  std::string dir;
  ModelConfig model;
  TrainOptions train;
  std::string command_line, config_ini;
  std::string dataset_dir, dataset_checksum, dataset_corpus;
  int64_t parameters = 0;
  int threads = 1;
};

void write_run_attrs(h5::Group& f, const RunInfo& r) {
  write_provenance(f, {"train", r.command_line, r.config_ini});
  f.set_attr("pe", r.model.pe.label());
  f.set_attr("pe_kind", to_string(r.model.pe.kind));
  f.set_attr("d_model", r.model.d_model);
  f.set_attr("n_layers", r.model.n_layers);
  f.set_attr("n_heads", r.model.n_heads);
  f.set_attr("head_dim", r.model.head_dim());
  f.set_attr("norm", to_string(r.model.norm));
  f.set_attr("qk_proj", qk_proj_name(r.model.qk_proj));
  f.set_attr("train_len", r.train.length);
  f.set_attr("batch", r.train.batch);
  f.set_attr("seed", static_cast<int64_t>(r.train.seed));
  f.set_attr("steps", r.train.steps);
  f.set_attr("parameters", r.parameters);
  f.set_attr("threads", static_cast<int64_t>(r.threads));
  f.set_attr("dataset_dir", r.dataset_dir);
  f.set_attr("dataset_checksum", r.dataset_checksum);
  f.set_attr("dataset_corpus", r.dataset_corpus);
}

void write_run_file(const RunInfo& r, const Logs& logs, int64_t step, const std::string& status, double seconds) {
  h5::File f = h5::File::create((fs::path(r.dir) / kRunFile).string());
  write_run_attrs(f, r);
  f.set_attr("step", step);
  f.set_attr("status", status);
  f.set_attr("train_seconds", seconds);
  f.set_attr("resumed_at", logs.resumed_at);
  {
    h5::Group t = f.create_group("train");
    const uint64_t n = logs.step.size();
    if (n) {
      t.append("step", logs.step.data(), n);
      t.append("loss", logs.loss.data(), n);
      t.append("lr", logs.lr.data(), n);
      t.append("grad_norm", logs.grad_norm.data(), n);
      t.append("tokens_per_s", logs.tokens_per_s.data(), n);
    }
    h5::Group v = f.create_group("val");
    const uint64_t m = logs.val_step.size();
    if (m) {
      v.append("step", logs.val_step.data(), m);
      v.append("loss", logs.val_loss.data(), m);
    }
  }
  f.commit();
}

Logs read_run_file(const std::string& path) {
  Logs l;
  try {
    h5::File f = h5::File::open_read(path);
    if (f.has("train")) {
      h5::Group t = f.open_group("train");
      if (t.has("step")) {
        l.step = t.read<int64_t>("step");
        l.loss = t.read<double>("loss");
        l.lr = t.read<double>("lr");
        l.grad_norm = t.read<double>("grad_norm");
        l.tokens_per_s = t.read<double>("tokens_per_s");
      }
    }
    if (f.has("val")) {
      h5::Group v = f.open_group("val");
      if (v.has("step")) {
        l.val_step = v.read<int64_t>("step");
        l.val_loss = v.read<double>("loss");
      }
    }
    if (f.has_attr("resumed_at")) {
      for (double x : f.attr_doubles("resumed_at")) l.resumed_at.push_back(static_cast<int64_t>(x));
    }
  } catch (const Error& e) {
    throw Error("run log '" + path + "' is corrupt or truncated (" + e.what() + ")",
                "restore it, or start again with a new --out");
  }
  const size_t n = l.step.size();
  PELAB_CHECK(l.loss.size() == n && l.lr.size() == n && l.grad_norm.size() == n && l.tokens_per_s.size() == n &&
                  l.val_loss.size() == l.val_step.size(),
              "run log '" << path << "' has arrays of different lengths", "restore it, or start again with a new --out");
  return l;
}

void write_checkpoint(const RunInfo& r, const Model& model, const AdamW<float>& opt, const data::Batcher& batcher,
                      int64_t step, double seconds) {
  const int64_t n = model.num_params();
  h5::File f = h5::File::create((fs::path(r.dir) / kCheckpointFile).string());
  write_run_attrs(f, r);
  f.set_attr("step", step);
  f.set_attr("optimizer_step", opt.step());
  f.set_attr("batcher_state", batcher.state().to_ints());
  f.set_attr("train_seconds", seconds);
  uint64_t h = hash_floats(model.params(), n);
  h = hash_floats(opt.m(), n, h);
  h = hash_floats(opt.v(), n, h);
  f.set_attr("state_checksum", data::fnv1a64_hex(h));
  std::vector<std::string> names;
  std::vector<int64_t> offsets, numel;
  for (const auto& t : model.layout().tensors()) {
    names.push_back(t.name);
    offsets.push_back(t.offset);
    numel.push_back(t.numel);
  }
  f.set_attr("tensor_names", join(names, ","));
  f.set_attr("tensor_offsets", offsets);
  f.set_attr("tensor_numel", numel);
  f.write("params", model.params(), {static_cast<uint64_t>(n)});
  f.write("adam_m", opt.m(), {static_cast<uint64_t>(n)});
  f.write("adam_v", opt.v(), {static_cast<uint64_t>(n)});
  f.commit();
}

Checkpoint read_checkpoint(const std::string& path) {
  std::error_code ec;
  PELAB_CHECK(fs::exists(path, ec), "no checkpoint '" << path << "'",
              "--resume takes a run folder written by pelab train (it writes its first checkpoint at step 0)");
  const std::string hint = "the file is damaged: restore it from a copy, or start the run again with a new --out";
  Checkpoint c;
  std::string stored_sum;
  try {
    h5::File f = h5::File::open_read(path);
    c.step = f.attr_int("step");
    c.optimizer_step = f.attr_int("optimizer_step");
    std::vector<double> b = f.attr_doubles("batcher_state");
    std::vector<int64_t> bi;
    // The batcher's RNG state is a 64-bit pattern: read it exactly, not through double.
    {
      h5::Handle a(H5Aopen(f.id(), "batcher_state", H5P_DEFAULT), H5Aclose);
      PELAB_CHECK(a.valid(), "no batcher_state", "");
      bi.resize(b.size());
      PELAB_CHECK(H5Aread(a.get(), H5T_NATIVE_INT64, bi.data()) >= 0, "cannot read batcher_state", "");
    }
    c.batcher = data::BatcherState::from_ints(bi);
    c.config_ini = f.attr_string("config_ini");
    c.dataset_checksum = f.attr_string("dataset_checksum");
    c.threads = f.attr_int("threads");
    c.seconds = f.attr_double("train_seconds");
    stored_sum = f.attr_string("state_checksum");
    c.params = f.read<float>("params");
    c.m = f.read<float>("adam_m");
    c.v = f.read<float>("adam_v");
  } catch (const Error& e) {
    throw Error("checkpoint '" + path + "' is corrupt or truncated (" + e.what() + ")", hint);
  }
  const int64_t n = static_cast<int64_t>(c.params.size());
  PELAB_CHECK(static_cast<int64_t>(c.m.size()) == n && static_cast<int64_t>(c.v.size()) == n && c.step >= 0,
              "checkpoint '" << path << "' is corrupt (parameter and moment arrays differ in size)", hint);
  uint64_t h = hash_floats(c.params.data(), n);
  h = hash_floats(c.m.data(), n, h);
  h = hash_floats(c.v.data(), n, h);
  PELAB_CHECK(data::fnv1a64_hex(h) == stored_sum,
              "checkpoint '" << path << "' is corrupt (state checksum " << data::fnv1a64_hex(h) << " != stored "
                             << stored_sum << ")",
              hint);
  return c;
}

// ------------------------------------------------------------ validation set

// eval_batches·batch windows of T+1 tokens at evenly spaced starts over the
// validation split's token stream: the same set at every evaluation.
struct ValSet {
  int64_t rows = 0, T = 0;
  std::vector<int32_t> inputs, targets;
};

ValSet make_val_set(const data::Split& val, int64_t rows, int64_t T) {
  ValSet s;
  s.rows = rows;
  s.T = T;
  if (rows == 0) return s;
  const int64_t N = val.num_tokens();
  PELAB_CHECK(N >= T + 1, "the validation split has " << N << " tokens, fewer than --train.length + 1 = " << T + 1,
              "prepare the data with a larger --data.val-fraction, shorten --train.length, or set --train.eval-batches 0");
  const int64_t span = N - T - 1;
  s.inputs.resize(rows * T);
  s.targets.resize(rows * T);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t start = rows == 1 ? 0 : i * span / (rows - 1);
    for (int64_t t = 0; t < T; ++t) {
      s.inputs[i * T + t] = val.tokens[start + t];
      s.targets[i * T + t] = val.tokens[start + t + 1];
    }
  }
  return s;
}

double evaluate(Model& model, const ValSet& s, int64_t batch) {
  double sum = 0;
  for (int64_t r = 0; r < s.rows; r += batch) {
    const int64_t b = std::min(batch, s.rows - r);
    const double mean = model.evaluate(s.inputs.data() + r * s.T, s.targets.data() + r * s.T, static_cast<int>(b),
                                       static_cast<int>(s.T));
    sum += mean * static_cast<double>(b);
  }
  return sum / static_cast<double>(s.rows);
}

// ------------------------------------------------------------ the run

struct Session {
  RunInfo info;
  Logs logs;
  std::string log_text;
  bool resumed = false;
  Checkpoint ck;  // when resumed
};

void log_line(Session& s, const std::string& line) {
  s.log_text += line + "\n";
}

void flush_text(const Session& s) { write_text_atomic(fs::path(s.info.dir) / kLogFile, s.log_text); }

int train(Context& ctx, Session& s, const data::Dataset& ds) {
  RunInfo& r = s.info;
  const TrainOptions& t = r.train;
  const int64_t B = t.batch, T = t.length;

  Model model(r.model);
  r.parameters = model.num_params();
  const int64_t n = model.num_params();
  AdamW<float> opt(n, model.layout().decay_mask(), t.adamw);
  data::Batcher batcher(ds.train, batcher_options(ctx, T, t.seed));
  const ValSet val = make_val_set(ds.val, t.eval_batches * B, T);

  int64_t step = 0;
  if (s.resumed) {
    const Checkpoint& c = s.ck;
    PELAB_CHECK(static_cast<int64_t>(c.params.size()) == n,
                "checkpoint holds " << c.params.size() << " parameters, the configured model has " << n,
                "the checkpoint does not belong to this configuration");
    std::copy(c.params.begin(), c.params.end(), model.params());
    opt.set_state(c.m.data(), c.v.data(), c.optimizer_step);
    batcher.restore(c.batcher);
    step = c.step;
    PELAB_CHECK(step <= t.steps, "the checkpoint is at step " << step << ", past --train.steps " << t.steps,
                "give --train.steps " << step << " or more to continue");
  }
  int64_t stop = t.steps;
  if (t.stop_at > 0) stop = std::min(stop, std::max(t.stop_at, step));

  const std::string ckpt_path = (fs::path(r.dir) / kCheckpointFile).string();
  int64_t last_ckpt = s.resumed ? step : -1;
  double seconds = s.logs.seconds;
  auto save_all = [&](const std::string& status) {
    write_run_file(r, s.logs, step, status, seconds);
    flush_text(s);
  };
  auto checkpoint = [&] {
    PELAB_CHECK(all_finite(model.params(), n) && all_finite(opt.m(), n) && all_finite(opt.v(), n),
                "training diverged at step " << step << ": the parameters hold NaN or inf",
                "lower --train.lr or set --train.grad-clip; the last good checkpoint (step " << last_ckpt
                                                                                             << ") is kept in " << ckpt_path);
    write_checkpoint(r, model, opt, batcher, step, seconds);
    last_ckpt = step;
    log_line(s, "checkpoint step " + std::to_string(step));
  };
  // at: the step whose update failed (its loss is logged under that step).
  auto diverged = [&](const std::string& what, double value, int64_t at) {
    log_line(s, what + " is " + fmt("%g", value) + " at step " + std::to_string(at) + "; stopped");
    save_all("diverged");
    std::ostringstream hint;
    hint << "lower --train.lr or set --train.grad-clip and start a new run; ";
    if (last_ckpt >= 0) hint << "the last good checkpoint (step " << last_ckpt << ") is kept in " << ckpt_path;
    else hint << "no checkpoint was written";
    throw Error("training diverged: " + what + " is " + fmt("%g", value) + " at step " + std::to_string(at),
                hint.str());
  };
  auto run_eval = [&] {
    if (val.rows == 0) return;
    const double v = evaluate(model, val, B);
    if (!std::isfinite(v)) diverged("the validation loss", v, step);
    s.logs.val_step.push_back(step);
    s.logs.val_loss.push_back(v);
    log_line(s, "val step " + std::to_string(step) + " loss " + fmt("%.4f", v));
  };

  if (!s.resumed) {
    log_line(s, "pelab train: " + r.command_line);
    log_line(s, "model " + r.model.pe.label() + " d_model " + std::to_string(r.model.d_model) + " layers " +
                    std::to_string(r.model.n_layers) + " heads " + std::to_string(r.model.n_heads) + " parameters " +
                    std::to_string(n) + "; T " + std::to_string(T) + " batch " + std::to_string(B) + " steps " +
                    std::to_string(t.steps) + " threads " + std::to_string(r.threads));
    log_line(s, "data " + r.dataset_dir + " (" + r.dataset_corpus + ", " + r.dataset_checksum + ")");
    run_eval();
    checkpoint();
    save_all("running");
  } else {
    s.logs.resumed_at.push_back(step);
    log_line(s, "resumed at step " + std::to_string(step) + " (steps " + std::to_string(t.steps) + ", threads " +
                    std::to_string(r.threads) + "): " + r.command_line);
    if (s.ck.threads != r.threads)
      std::fprintf(stderr, "pelab train: note: the checkpoint was written with %lld threads, this run uses %d; "
                           "results will not be bit-identical to an uninterrupted run\n",
                   static_cast<long long>(s.ck.threads), r.threads);
    flush_text(s);
  }

  Progress progress("train", stop, ctx.flag("quiet") ? Progress::Mode::QUIET : Progress::Mode::AUTO);
  g_interrupted = 0;
  auto old_int = std::signal(SIGINT, on_interrupt);
  auto old_term = std::signal(SIGTERM, on_interrupt);
  struct Restore {
    decltype(old_int) a, b;
    ~Restore() {
      std::signal(SIGINT, a);
      std::signal(SIGTERM, b);
    }
  } restore{old_int, old_term};

  data::Batch batch;
  using Clock = std::chrono::steady_clock;
  while (step < stop && !g_interrupted) {
    batcher.next(B, batch);
    const auto t0 = Clock::now();
    const double lr = t.schedule(step);
    const float loss = model.forward(batch.inputs.data(), batch.targets.data(), static_cast<int>(B), static_cast<int>(T));
    if (!std::isfinite(loss)) {
      s.logs.step.push_back(step + 1), s.logs.loss.push_back(loss), s.logs.lr.push_back(lr);
      s.logs.grad_norm.push_back(NAN), s.logs.tokens_per_s.push_back(0);
      diverged("the training loss", loss, step + 1);
    }
    model.zero_grad();
    model.backward();
    const double gn = clip_grad_norm(model.grads(), n, t.grad_clip);
    if (!std::isfinite(gn)) diverged("the gradient norm", gn, step + 1);
    opt.update(model.params(), model.grads(), lr);
    ++step;
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    seconds += dt;
    const double tps = static_cast<double>(B * T) / std::max(dt, 1e-9);
    s.logs.step.push_back(step), s.logs.loss.push_back(loss), s.logs.lr.push_back(lr);
    s.logs.grad_norm.push_back(gn), s.logs.tokens_per_s.push_back(tps);

    bool write = false;
    if (step % t.log_every == 0 || step == stop) {
      log_line(s, "step " + std::to_string(step) + "/" + std::to_string(t.steps) + " loss " + fmt("%.4f", loss) +
                      " lr " + fmt("%.3e", lr) + " grad_norm " + fmt("%.3f", gn) + " tokens/s " + fmt("%.0f", tps));
      write = true;
    }
    if (step % t.eval_every == 0 || step == t.steps) {
      run_eval();
      write = true;
    }
    if (step % t.checkpoint_every == 0 || step == stop || g_interrupted) {
      checkpoint();
      write = true;
    }
    if (write) save_all(step == t.steps ? "done" : "running");
    std::string extra = "loss " + fmt("%.3f", loss) + " lr " + fmt("%.2e", lr) + " " + fmt("%.0f", tps) + " tok/s";
    if (!s.logs.val_loss.empty()) extra += " val " + fmt("%.3f", s.logs.val_loss.back());
    progress.update(step, extra);
  }
  progress.finish();

  // Final numbers: the mean training loss of the last 10 steps, the last val loss.
  double train_loss = NAN, val_loss = NAN;
  {
    const size_t k = std::min<size_t>(10, s.logs.loss.size());
    if (k) {
      double sum = 0;
      for (size_t i = s.logs.loss.size() - k; i < s.logs.loss.size(); ++i) sum += s.logs.loss[i];
      train_loss = sum / static_cast<double>(k);
    }
    if (!s.logs.val_loss.empty()) val_loss = s.logs.val_loss.back();
  }
  const std::string status = step == t.steps ? "done" : (g_interrupted ? "interrupted" : "stopped");
  if (last_ckpt != step) checkpoint();
  log_line(s, status + " at step " + std::to_string(step) + ": train loss " + fmt("%.4f", train_loss) +
                  " (mean of the last 10 steps), val loss " + fmt("%.4f", val_loss) + ", " + fmt("%.1f", seconds) +
                  " s of training");
  save_all(status);
  std::printf("%s  step %lld/%lld  train_loss %.4f  val_loss %.4f  time %.1fs  (%s)\n", r.dir.c_str(),
              static_cast<long long>(step), static_cast<long long>(t.steps), train_loss, val_loss, seconds,
              status.c_str());
  if (g_interrupted) {
    std::fprintf(stderr, "pelab train: interrupted at step %lld; checkpoint written; continue with pelab train --resume %s\n",
                 static_cast<long long>(step), r.dir.c_str());
    return 130;
  }
  return 0;
}

int set_threads(const TrainOptions& t) {
  const int n = t.threads > 0 ? t.threads : omp_get_max_threads();
  omp_set_num_threads(n);
  return n;
}

void fill_info(Session& s, Context& ctx, const data::Dataset& ds, const std::string& data_dir) {
  s.info.model = model_config(ctx);
  s.info.train = train_options(ctx);
  s.info.command_line = ctx.command_line();
  s.info.config_ini = ctx.resolved_ini();
  s.info.dataset_dir = data_dir;
  s.info.dataset_checksum = ds.checksum();
  s.info.dataset_corpus = ds.corpus;
  s.info.threads = set_threads(s.info.train);
  // The batcher needs T + 1 training tokens (it checks, but name the option here).
  PELAB_CHECK(ds.train.num_tokens() >= s.info.train.length + 1,
              "the training split has " << ds.train.num_tokens() << " tokens, fewer than --train.length + 1 = "
                                        << s.info.train.length + 1,
              "shorten --train.length or use a larger corpus");
}

std::string data_dir_of(const Context& ctx) {
  const std::string d = ctx.str("data.dir");
  PELAB_CHECK(!d.empty(), "missing --data.dir", "prepare data with pelab data prepare --corpus kjv --out data/kjv, then pass --data.dir data/kjv");
  return d;
}

int run_fresh(Context& ctx) {
  PELAB_CHECK(ctx.has("out"), "missing --out", "name the run folder to create, e.g. --out runs/tiny-rope");
  const std::string out = ctx.str("out");
  PELAB_CHECK(!out.empty(), "--out is empty", "name the run folder to create, e.g. --out runs/tiny-rope");
  std::error_code ec;
  if (fs::exists(out, ec)) {
    PELAB_CHECK(fs::is_directory(out, ec), "--out '" << out << "' exists and is not a folder", "choose another --out");
    PELAB_CHECK(fs::is_empty(out, ec), "--out '" << out << "' already holds files (a previous run?)",
                "continue it with pelab train --resume " << out << ", or choose another --out");
  }
  // Check everything before creating anything.
  Session s;
  s.info.dir = out;
  (void)model_config(ctx);
  (void)train_options(ctx);
  const std::string data_dir = data_dir_of(ctx);
  const data::Dataset ds = data::load_dataset(data_dir);
  fill_info(s, ctx, ds, data_dir);

  fs::create_directories(out, ec);
  PELAB_CHECK(!ec, "cannot create folder '" << out << "': " << ec.message(), "check the path and its permissions");
  write_text_atomic(fs::path(out) / kConfigFile, s.info.config_ini);
  return train(ctx, s, ds);
}

int run_resume(Context& outer) {
  const std::string dir = outer.str("resume");
  PELAB_CHECK(!outer.has("out"), "--resume and --out both given", "--resume continues the run in its own folder; drop --out");
  std::error_code ec;
  PELAB_CHECK(fs::is_directory(dir, ec), "run folder '" << dir << "' does not exist", "--resume takes a folder written by pelab train --out");
  Session s;
  s.resumed = true;
  s.info.dir = dir;
  s.ck = read_checkpoint((fs::path(dir) / kCheckpointFile).string());

  // The resumed configuration: the command line (and --config), then the
  // checkpoint's resolved configuration for everything else.
  auto desc = train_description();
  const std::vector<std::string>& argv = outer.argv();
  std::vector<std::string> rest(argv.begin() + 2, argv.end());
  po::variables_map vm;
  po::store(po::command_line_parser(rest).options(desc->all).run(), vm);
  if (vm.count("config")) {
    std::ifstream in(vm["config"].as<std::string>());
    po::store(po::parse_config_file(in, desc->all), vm);
  }
  std::map<std::string, std::string> given;
  for (const auto& [key, value] : vm)
    if (!value.defaulted()) given[key] = any_to_string(value.value());
  std::map<std::string, std::string> saved = parse_ini(s.ck.config_ini);
  for (const auto& [key, value] : given) {
    if (kResumeMayChange.count(key)) continue;
    auto it = saved.find(key);
    const std::string old = it == saved.end() ? std::string("(unset)") : it->second;
    PELAB_CHECK(it != saved.end() && same_value(old, value),
                "--" << key << " " << value << " differs from the checkpoint's " << key << " = " << old << " in " << dir,
                "a resumed run keeps its configuration (only --train.steps/--train.tokens, logging cadence, threads and "
                "--data.dir may change); drop --"
                    << key << " or start a new run with another --out");
  }
  // New --train.steps replaces the saved --train.tokens (which would win otherwise).
  if (given.count("train.steps") && !given.count("train.tokens")) saved["train.tokens"] = "0";
  for (const auto& k : kNotInherited) saved.erase(k);
  for (const auto& [key, value] : given) saved[key] = value;  // given values win
  saved["resume"] = dir;
  std::istringstream ini(to_ini(saved));
  po::variables_map final_vm;
  po::store(po::parse_config_file(ini, desc->all, true), final_vm);
  po::notify(final_vm);
  Context ctx(argv, std::move(final_vm), &desc->all);

  const std::string data_dir = data_dir_of(ctx);
  const data::Dataset ds = data::load_dataset(data_dir);
  PELAB_CHECK(ds.checksum() == s.ck.dataset_checksum,
              "dataset '" << data_dir << "' has checksum " << ds.checksum() << ", the checkpoint was trained on "
                          << s.ck.dataset_checksum,
              "pass the data folder the run was trained on with --data.dir");
  fill_info(s, ctx, ds, data_dir);
  s.logs = read_run_file((fs::path(dir) / kRunFile).string());
  s.logs.truncate(s.ck.step);
  s.logs.seconds = s.ck.seconds;
  s.log_text = read_text(fs::path(dir) / kLogFile);
  write_text_atomic(fs::path(dir) / kConfigFile, s.info.config_ini);
  return train(ctx, s, ds);
}

}  // namespace

int run_train(Context& ctx) {
  if (ctx.has("resume")) return run_resume(ctx);
  return run_fresh(ctx);
}

}  // namespace pelab::cli
