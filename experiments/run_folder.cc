#include "experiments/run_folder.h"

#include <algorithm>
#include <map>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/ini.h"
#include "core/provenance.h"
#include "core/strings.h"
#include "datasets/dataset.h"

namespace pelab {

namespace fs = std::filesystem;

namespace {

template <typename T>
uint64_t hash_values(const T* p, int64_t n, uint64_t h = data::kFnvOffset) {
  return data::fnv1a64(reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(n) * sizeof(T), h);
}

void write_run_attrs(h5::Group& f, const RunDescription& r, const char* kind) {
  write_provenance(f, {"train", r.command_line, r.config_ini});
  f.set_attr("file_kind", kind);
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
  // Only a fine-tune has them: files of runs from scratch stay as they were.
  if (!r.init_from.empty()) {
    f.set_attr("init_from", r.init_from);
    f.set_attr("init_from_step", r.init_from_step);
  }
}

// A file of this run must say it is one (a decay or dataset file passed by
// mistake would otherwise fail later with a less helpful message).
void expect_kind(const h5::File& f, const std::string& path, const char* kind, const std::string& hint) {
  PELAB_CHECK(f.has_attr("file_kind") && f.attr_string("file_kind") == kind,
              "'" << path << "' is not a pelab " << kind << " file"
                  << (f.has_attr("command") ? " (written by pelab " + f.attr_string("command") + ")" : std::string()),
              hint);
}

// Reads an int64 attribute array exactly (attr_doubles would round 64-bit patterns).
std::vector<int64_t> attr_ints_exact(const h5::Group& g, const char* name) {
  PELAB_CHECK(g.has_attr(name), "no attribute '" << name << "'", "");
  h5::Handle a(H5Aopen(g.id(), name, H5P_DEFAULT), H5Aclose);
  h5::Handle space(a.valid() ? H5Aget_space(a.get()) : H5I_INVALID_HID, H5Sclose);
  PELAB_CHECK(space.valid(), "cannot open attribute '" << name << "'", "");
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  PELAB_CHECK(n >= 0 && n <= 1024, "attribute '" << name << "' has " << n << " values", "");
  std::vector<int64_t> v(static_cast<size_t>(n));
  PELAB_CHECK(n == 0 || H5Aread(a.get(), H5T_NATIVE_INT64, v.data()) >= 0, "cannot read attribute '" << name << "'", "");
  return v;
}

}  // namespace

std::string training_difference(const std::string& ini_a, const std::string& ini_b) {
  // Threads change results in the last bits only; the rest never touches the parameters.
  static const std::set<std::string> kIgnored = {
      "out",         "quiet",         "resume",           "config",        "help", "print-config", "train.threads",
      "train.stop-at", "train.log-every", "train.eval-every", "train.checkpoint-every"};
  auto relevant = [](const std::string& ini, const char* which) {
    std::map<std::string, std::string> kv = ini_map(parse_ini(ini, which));
    for (auto it = kv.begin(); it != kv.end();) it = kIgnored.count(it->first) ? kv.erase(it) : std::next(it);
    return kv;
  };
  const auto a = relevant(ini_a, "the first configuration"), b = relevant(ini_b, "the second configuration");
  for (const auto& [k, v] : a) {
    const auto it = b.find(k);
    if (it == b.end()) return k + ": " + v + " vs not set";
    if (!same_text_or_number(v, it->second)) return k + ": " + v + " vs " + it->second;
  }
  for (const auto& [k, v] : b)
    if (!a.count(k)) return k + ": not set vs " + v;
  return "";
}

void TrainLogs::truncate(int64_t last_step) {
  size_t n = 0;
  while (n < step.size() && step[n] <= last_step) ++n;
  step.resize(n), loss.resize(n), lr.resize(n), grad_norm.resize(n), tokens_per_s.resize(n);
  size_t m = 0;
  while (m < val_step.size() && val_step[m] <= last_step) ++m;
  val_step.resize(m), val_loss.resize(m);
  while (!resumed_at.empty() && resumed_at.back() > last_step) resumed_at.pop_back();
}

// ------------------------------------------------------------ the folder

void check_result_label(const std::string& label) {
  PELAB_CHECK(!label.empty() && label != "." && label != ".." && label.find_first_of("/ \t\n\r") == std::string::npos,
              "--label '" << label << "' cannot name a result group",
              "use letters, digits, '.', '-' and '_' (no '/' or spaces)");
}

RunFolder RunFolder::create(const std::string& dir, const std::string& option) {
  PELAB_CHECK(!dir.empty(), option << " is empty", "name the run folder to create, e.g. " << option << " runs/tiny-rope");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    PELAB_CHECK(fs::is_directory(dir, ec), option << " '" << dir << "' exists and is not a folder", "choose another " << option);
    PELAB_CHECK(fs::is_empty(dir, ec), option << " '" << dir << "' already holds files (a previous run?)",
                "continue it with pelab train --resume " << dir << ", or choose another " << option);
  }
  fs::create_directories(dir, ec);
  PELAB_CHECK(!ec, "cannot create folder '" << dir << "': " << ec.message(), "check the path and its permissions");
  return RunFolder(dir);
}

RunFolder RunFolder::open(const std::string& dir, const std::string& option) {
  PELAB_CHECK(!dir.empty(), option << " is empty", "give a run folder written by pelab train --out");
  std::error_code ec;
  PELAB_CHECK(fs::is_directory(dir, ec), "run folder '" << dir << "' does not exist",
              option << " takes a folder written by pelab train --out");
  remove_stale_temporaries(dir);
  return RunFolder(dir);
}

std::string RunFolder::file(const char* name) const { return (fs::path(dir_) / name).string(); }

bool RunFolder::has(const char* name) const {
  std::error_code ec;
  return fs::exists(file(name), ec);
}

std::unique_ptr<FileLock> RunFolder::lock_training() const {
  auto lock = std::make_unique<FileLock>(file(kTrainLockFile), /*wait=*/false);
  PELAB_CHECK(lock->held(), "run folder '" << dir_ << "' is being trained by another process",
              "wait for that training to finish or stop it (a stopped or killed training frees the folder at once)");
  return lock;
}

std::string RunFolder::read_config() const {
  PELAB_CHECK(has(kConfigFile), "run folder '" << dir_ << "' has no " << kConfigFile,
              "it is not a folder written by pelab train --out");
  return read_text(file(kConfigFile), "configuration");
}

void RunFolder::write_config(const std::string& ini) const { write_text_atomic(file(kConfigFile), ini); }

std::string RunFolder::read_log() const { return has(kLogFile) ? read_text(file(kLogFile), "log") : std::string(); }

void RunFolder::write_log(const std::string& text) const { write_text_atomic(file(kLogFile), text); }

// ------------------------------------------------------------ run.h5

void RunFolder::rewrite_run_file(const std::vector<std::string>& replaced, bool own_root,
                                 const std::function<void(h5::File&)>& fill) const {
  // Read, copy and rename as one step: an evaluation and a training writing at once each keep the other's sections.
  const FileLock lock(file(kRunLockFile), /*wait=*/true);
  const std::string path = file(kRunFile);
  h5::File out = h5::File::create(path);
  if (has(kRunFile)) {
    const h5::File old = h5::File::open_read(path);
    expect_kind(old, path, "run", "the run folder's run.h5 was replaced by another file; restore it");
    if (!own_root) out.copy_attrs(old);
    // Copy every member not replaced; descend into groups that hold a replaced path.
    std::function<void(const h5::Group&, h5::Group&, const std::string&)> copy =
        [&](const h5::Group& src, h5::Group& dst, const std::string& prefix) {
          for (const auto& name : src.children()) {
            const std::string p = prefix.empty() ? name : prefix + "/" + name;
            if (std::find(replaced.begin(), replaced.end(), p) != replaced.end()) continue;
            const bool holds = std::any_of(replaced.begin(), replaced.end(),
                                           [&](const std::string& r) { return r.rfind(p + "/", 0) == 0; });
            if (!holds) {
              dst.copy_member(src, name);
              continue;
            }
            const h5::Group s = src.open_group(name);
            h5::Group d = dst.create_group(name);
            d.copy_attrs(s);
            copy(s, d, p);
          }
        };
    copy(old, out, "");
  }
  fill(out);
  out.commit();
}

TrainLogs RunFolder::read_train_logs() const {
  TrainLogs l;
  if (!has(kRunFile)) return l;
  const std::string path = file(kRunFile);
  const h5::File f = h5::File::open_read(path);
  expect_kind(f, path, "run", "the run folder's run.h5 was replaced by another file; restore it");
  try {
    if (f.has("train")) {
      const h5::Group t = f.open_group("train");
      if (t.has("step")) {
        l.step = t.read<int64_t>("step");
        l.loss = t.read<double>("loss");
        l.lr = t.read<double>("lr");
        l.grad_norm = t.read<double>("grad_norm");
        l.tokens_per_s = t.read<double>("tokens_per_s");
      }
    }
    if (f.has("val")) {
      const h5::Group v = f.open_group("val");
      if (v.has("step")) {
        l.val_step = v.read<int64_t>("step");
        l.val_loss = v.read<double>("loss");
      }
    }
    if (f.has_attr("resumed_at")) l.resumed_at = attr_ints_exact(f, "resumed_at");
  } catch (const Error& e) {
    throw Error("run log '" + path + "' is not readable (" + e.what() + ")", "restore it, or start again with a new --out");
  }
  const size_t n = l.step.size();
  PELAB_CHECK(l.loss.size() == n && l.lr.size() == n && l.grad_norm.size() == n && l.tokens_per_s.size() == n &&
                  l.val_loss.size() == l.val_step.size() && std::is_sorted(l.step.begin(), l.step.end()) &&
                  std::is_sorted(l.val_step.begin(), l.val_step.end()),
              "run log '" << path << "' has arrays of different lengths or unordered steps",
              "restore it, or start again with a new --out");
  return l;
}

void RunFolder::write_train_logs(const RunDescription& r, const TrainLogs& logs, int64_t step,
                                 const std::string& status, double seconds) const {
  rewrite_run_file({"train", "val"}, /*own_root=*/true, [&](h5::File& f) {
    write_run_attrs(f, r, "run");
    f.set_attr("step", step);
    f.set_attr("status", status);
    f.set_attr("train_seconds", seconds);
    f.set_attr("resumed_at", logs.resumed_at);
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
  });
}

void RunFolder::write_result(const std::string& section, const std::string& label,
                             const std::function<void(h5::Group&)>& fill) const {
  PELAB_CHECK(has(kRunFile), "run folder '" << dir_ << "' has no " << kRunFile,
              "it is not a folder written by pelab train --out (or its training never started)");
  check_result_label(label);
  const std::string path = section + "/" + label;
  rewrite_run_file({path}, /*own_root=*/false, [&](h5::File& f) {
    h5::Group g = f.require_group(section).create_group(label);
    fill(g);
  });
}

std::vector<std::string> RunFolder::result_labels(const std::string& section) const {
  if (!has(kRunFile)) return {};
  const h5::File f = h5::File::open_read(file(kRunFile));
  if (!f.has(section)) return {};
  return f.open_group(section).children();
}

// ------------------------------------------------------------ checkpoint.h5

void RunFolder::write_checkpoint(const RunDescription& r, const CheckpointState& c) const {
  const int64_t n = c.layout->total();
  h5::File f = h5::File::create(file(kCheckpointFile));
  write_run_attrs(f, r, "checkpoint");
  f.set_attr("step", c.step);
  f.set_attr("optimizer_step", c.optimizer_step);
  f.set_attr("batcher_state", c.batcher_state);
  f.set_attr("train_seconds", c.seconds);
  uint64_t h = hash_values(c.params, n);
  h = hash_values(c.m, n, h);
  h = hash_values(c.v, n, h);
  f.set_attr("state_checksum", data::fnv1a64_hex(h));
  std::vector<std::string> names;
  std::vector<int64_t> offsets, numel;
  for (const auto& t : c.layout->tensors()) {
    names.push_back(t.name);
    offsets.push_back(t.offset);
    numel.push_back(t.numel);
  }
  f.set_attr("tensor_names", join(names, ","));
  f.set_attr("tensor_offsets", offsets);
  f.set_attr("tensor_numel", numel);
  f.write("params", c.params, {static_cast<uint64_t>(n)});
  f.write("adam_m", c.m, {static_cast<uint64_t>(n)});
  f.write("adam_v", c.v, {static_cast<uint64_t>(n)});
  f.commit();
}

Checkpoint RunFolder::read_checkpoint(bool optimizer_state) const {
  const std::string path = file(kCheckpointFile);
  PELAB_CHECK(has(kCheckpointFile), "no checkpoint '" << path << "'",
              "the run has not written its first checkpoint (pelab train writes one at step 0); train it first");
  const std::string hint = "the file is damaged: restore it from a copy, or start the run again with a new --out";
  const h5::File f = h5::File::open_read(path);
  expect_kind(f, path, "checkpoint", "the run folder's checkpoint.h5 was replaced by another file; restore it");
  Checkpoint c;
  std::string stored_sum;
  try {
    c.step = f.attr_int("step");
    c.optimizer_step = f.attr_int("optimizer_step");
    c.batcher_state = attr_ints_exact(f, "batcher_state");
    c.config_ini = f.attr_string("config_ini");
    c.dataset_checksum = f.attr_string("dataset_checksum");
    c.threads = f.attr_int("threads");
    c.seconds = f.attr_double("train_seconds");
    stored_sum = f.attr_string("state_checksum");
    if (f.has_attr("init_from_step")) c.init_from_step = f.attr_int("init_from_step");
    PELAB_CHECK(f.shape("params").size() == 1 && f.shape("adam_m") == f.shape("params") &&
                    f.shape("adam_v") == f.shape("params"),
                "parameter and moment arrays differ in shape", "");
    c.params = f.read<float>("params");
    if (optimizer_state) {
      c.m = f.read<float>("adam_m");
      c.v = f.read<float>("adam_v");
    }
  } catch (const Error& e) {
    throw Error("checkpoint '" + path + "' is not readable (" + e.what() + ")", hint);
  }
  PELAB_CHECK(c.step >= 0 && c.optimizer_step >= 0 && c.threads >= 0 && c.batcher_state.size() == 3 &&
                  c.init_from_step >= -1,
              "checkpoint '" << path << "' holds impossible values (step " << c.step << ", optimizer step "
                             << c.optimizer_step << ")",
              hint);
  if (optimizer_state) {
    const int64_t n = static_cast<int64_t>(c.params.size());
    uint64_t h = hash_values(c.params.data(), n);
    h = hash_values(c.m.data(), n, h);
    h = hash_values(c.v.data(), n, h);
    PELAB_CHECK(data::fnv1a64_hex(h) == stored_sum,
                "checkpoint '" << path << "' is corrupt (state checksum " << data::fnv1a64_hex(h) << " != stored "
                               << stored_sum << ")",
                hint);
  }
  return c;
}

}  // namespace pelab
