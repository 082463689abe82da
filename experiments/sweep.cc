#include "experiments/sweep.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/hdf5_file.h"
#include "core/process.h"
#include "core/strings.h"
#include "experiments/run_folder.h"

namespace pelab {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Names that become folder names and HDF5 labels.
bool safe_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." &&
         s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") == std::string::npos;
}

std::string folder_safe(const std::string& v) {
  std::string out = v;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-') c = '_';
  return out;
}

// Options a sweep sets itself; a sweep file cannot.
const std::set<std::string> kReserved = {"out", "resume", "config", "run", "label", "quiet", "help", "init-from"};

void add_option(Options& opts, const std::string& key, const std::string& value, const std::string& where) {
  for (const auto& [k, v] : opts)
    PELAB_CHECK(k != key, where << ": '" << key << "' given twice", "keep one");
  opts.emplace_back(key, value);
}

// "4T" -> 4 * T; other items unchanged.
std::string expand_lengths(const std::string& value, long long T, const std::string& where) {
  std::vector<std::string> items;
  for (std::string item : split(value)) {
    item = trim(item);
    const std::string k_text = item.substr(0, item.size() - 1);
    if (item.size() >= 2 && item.back() == 'T' && k_text.find_first_not_of("0123456789") == std::string::npos) {
      const long long k = parse_int(k_text, where);
      PELAB_CHECK(k >= 1 && k <= (1LL << 20), where << ": '" << item << "' must be a positive multiple of T",
                  "write lengths as tokens (1024) or multiples of the training length (4T)");
      item = std::to_string(k * T);
    }
    items.push_back(item);
  }
  return join(items, ",");
}

void append_line(const std::string& path, const std::string& line) {
  std::ofstream f(path, std::ios::app);
  f << line << "\n";
}

std::string now_text() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

}  // namespace

Sweep parse_sweep(const std::vector<IniEntry>& entries, const std::string& prefix, const std::string& source) {
  Sweep s;
  s.source = source;
  std::map<std::string, size_t> stage_index;  // "eval.label" -> index into s.stages
  long long seeds = 0;                         // the file's seeds = N, applied once the axes are known
  for (const auto& e : entries) {
    if (!starts_with(e.key, prefix)) continue;
    const std::string k = e.key.substr(prefix.size());
    const std::string where = source + " line " + std::to_string(e.line);
    if (k == "sweep.name") {
      PELAB_CHECK(safe_name(e.value), where << ": sweep name '" << e.value << "' is not a folder name",
                  "use letters, digits, '.', '_', '+' and '-'");
      s.name = e.value;
    } else if (k == "sweep.config") {
      s.base_config = e.value;
    } else if (k == "sweep.out") {
      s.out = e.value;
    } else if (k == "sweep.runs") {
      s.runs = e.value;
    } else if (k == "sweep.seeds") {
      const long long n = parse_int(e.value, where + " seeds");
      PELAB_CHECK(n >= 1 && n <= 1000, where << ": seeds must be in [1, 1000], got " << n,
                  "e.g. seeds = 3 (each point is trained with train.seed = 1..3)");
      seeds = n;
    } else if (k == "sweep.seed-base") {
      const long long b = parse_int(e.value, where + " seed-base");
      PELAB_CHECK(b >= 0 && b <= 1000000000, where << ": seed-base must be in [0, 1e9], got " << b,
                  "e.g. seed-base = 100 (the seeds are then train.seed = 101, 102, ...)");
      s.seed_base = b;
    } else if (starts_with(k, "axes.")) {
      SweepAxis a{k.substr(5), {}};
      PELAB_CHECK(!kReserved.count(a.key), where << ": the sweep sets '" << a.key << "' itself", "remove the line");
      std::set<std::string> seen;
      for (const auto& item : split(e.value)) {
        const std::string v = trim(item);
        PELAB_CHECK(!v.empty(), where << ": axis '" << a.key << "' has an empty value", "write values as a, b, c");
        PELAB_CHECK(seen.insert(v).second, where << ": axis '" << a.key << "' lists '" << v << "' twice", "keep one");
        a.values.push_back(v);
      }
      s.axes.push_back(std::move(a));
    } else if (starts_with(k, "set.")) {
      const std::string key = k.substr(4);
      PELAB_CHECK(!kReserved.count(key), where << ": the sweep sets '" << key << "' itself", "remove the line");
      add_option(s.set, key, e.value, where);
    } else if (starts_with(k, "finetune.")) {
      const size_t dot = k.find('.', 9);
      PELAB_CHECK(dot != std::string::npos, where << ": '" << k << "' names no option",
                  "write a fine-tune as a section [finetune.LABEL] with pelab train options as keys");
      const std::string label = k.substr(9, dot - 9), option = k.substr(dot + 1);
      PELAB_CHECK(safe_name(label), where << ": fine-tune label '" << label << "' is not a folder name",
                  "use letters, digits, '_', '+' and '-'");
      PELAB_CHECK(!kReserved.count(option), where << ": the sweep sets '" << option << "' itself", "remove the line");
      auto it = std::find_if(s.finetunes.begin(), s.finetunes.end(), [&](const auto& f) { return f.label == label; });
      if (it == s.finetunes.end()) it = s.finetunes.insert(s.finetunes.end(), {label, {}});
      add_option(it->options, option, e.value, where);
    } else if (starts_with(k, "bench.")) {
      const size_t dot = k.find('.', 6);
      PELAB_CHECK(dot != std::string::npos, where << ": '" << k << "' names no option",
                  "write a benchmark as a section [bench.LABEL] with topic = attention|train|eval and its options");
      const std::string label = k.substr(6, dot - 6), option = k.substr(dot + 1);
      PELAB_CHECK(safe_name(label), where << ": bench label '" << label << "' is not a file name",
                  "use letters, digits, '_', '+' and '-'");
      PELAB_CHECK(option != "json", where << ": the sweep sets 'json' itself", "remove the line");
      auto it = std::find_if(s.benches.begin(), s.benches.end(), [&](const auto& b) { return b.label == label; });
      if (it == s.benches.end()) it = s.benches.insert(s.benches.end(), {label, "", {}});
      if (option == "topic") {
        PELAB_CHECK(e.value == "attention" || e.value == "train" || e.value == "eval",
                    where << ": bench topic '" << e.value << "' is not one of attention, train, eval",
                    "pelab help bench lists them");
        it->topic = e.value;
      } else {
        add_option(it->options, option, e.value, where);
      }
    } else if (starts_with(k, "eval.") || starts_with(k, "analyze.")) {
      const size_t dot1 = k.find('.');
      const size_t dot2 = k.find('.', dot1 + 1);
      PELAB_CHECK(dot2 != std::string::npos, where << ": '" << k << "' names no option",
                  "write the stage as a section [" << k.substr(0, dot1) << ".LABEL] with its options as keys");
      const std::string command = k.substr(0, dot1), label = k.substr(dot1 + 1, dot2 - dot1 - 1),
                        option = k.substr(dot2 + 1);
      PELAB_CHECK(safe_name(label), where << ": label '" << label << "' is not a result label",
                  "use letters, digits, '_', '+' and '-'");
      PELAB_CHECK(!kReserved.count(option), where << ": the sweep sets '" << option << "' itself", "remove the line");
      const std::string id = command + "." + label;
      if (!stage_index.count(id)) {
        stage_index[id] = s.stages.size();
        s.stages.push_back({command, label, "", {}});
      }
      if (option == "on") s.stages[stage_index[id]].on = e.value;
      else add_option(s.stages[stage_index[id]].options, option, e.value, where);
    } else {
      throw Error(where + ": unknown key '" + k + "'",
                  "a sweep has [sweep] name/config/out/runs, [axes], [set], [eval.LABEL], [analyze.LABEL], "
                  "[finetune.LABEL] and [bench.LABEL] sections");
    }
  }
  PELAB_CHECK(!s.name.empty(), source << ": no [sweep] name", "add 'name = ...' under [" << prefix << "sweep]");
  const bool trains = !s.axes.empty() || !s.set.empty() || !s.stages.empty() || !s.finetunes.empty();
  PELAB_CHECK(!s.base_config.empty() || (!trains && !s.benches.empty()), source << ": no [sweep] config",
              "add 'config = experiments/configs/tiny.ini' under [" << prefix << "sweep]");
  for (const auto& b : s.benches)
    PELAB_CHECK(!b.topic.empty(), source << ": [bench." << b.label << "] has no topic",
                "add 'topic = attention' (or train, eval)");
  if (s.out.empty()) s.out = "runs/sweeps/" + s.name;
  for (const auto& st : s.stages)
    PELAB_CHECK(st.on.empty() || std::any_of(s.finetunes.begin(), s.finetunes.end(),
                                             [&](const auto& f) { return f.label == st.on; }),
                source << ": [" << st.command << "." << st.label << "] is on '" << st.on << "', which is no fine-tune",
                "add a [finetune." << st.on << "] section, or remove 'on'");
  std::set<std::string> axis_keys;
  for (const auto& a : s.axes) {
    PELAB_CHECK(axis_keys.insert(a.key).second, source << ": axis '" << a.key << "' given twice", "keep one");
    for (const auto& [k, v] : s.set)
      PELAB_CHECK(k != a.key, source << ": '" << k << "' is both an axis and in [set]", "keep one");
  }
  if (seeds > 0 || s.seed_base > 0) set_seeds(s, seeds > 0 ? seeds : 1, source);
  return s;
}

void set_seeds(Sweep& s, long long n, const std::string& where) {
  PELAB_CHECK(n >= 1 && n <= 1000, where << ": the number of seeds must be in [1, 1000], got " << n,
              "e.g. --seeds 3 (each point is trained with train.seed = 1..3)");
  const bool added = s.seeds > 1 || (s.seeds == 1 && s.seed_base > 0);
  if (added && !s.axes.empty() && s.axes.back().key == "train.seed") s.axes.pop_back();  // an earlier set_seeds'
  for (const auto& a : s.axes)
    PELAB_CHECK(a.key != "train.seed", where << ": seeds and an axis train.seed exclude each other",
                "drop the train.seed axis (seeds = N trains train.seed = 1..N) or drop seeds");
  for (const auto& [k, v] : s.set)
    PELAB_CHECK(k != "train.seed", where << ": seeds and [set] train.seed exclude each other",
                "drop train.seed from [set]");
  PELAB_CHECK(!s.base_config.empty(), where << ": a sweep of benchmarks only has no trainings to seed", "drop seeds");
  s.seeds = static_cast<int>(n);
  if (n < 2 && s.seed_base == 0) return;  // train.seed as configured
  SweepAxis a{"train.seed", {}};
  for (long long i = 1; i <= n; ++i) a.values.push_back(std::to_string(s.seed_base + i));
  s.axes.push_back(std::move(a));
}

int seed_count(const Sweep& s) {
  for (const auto& a : s.axes)
    if (a.key == "train.seed") return static_cast<int>(a.values.size());
  return 1;
}

Sweep read_sweep_file(const std::string& path) {
  const std::string source = "sweep file '" + path + "'";
  return parse_sweep(parse_ini(read_text(path, "sweep file"), source), "", source);
}

std::vector<SweepPoint> sweep_points(const Sweep& s) {
  if (s.base_config.empty()) return {};
  size_t n = 1;
  for (const auto& a : s.axes) {
    n *= a.values.size();
    PELAB_CHECK(n <= 100000, s.source << ": the axes give more than 100,000 points", "split the sweep");
  }
  std::vector<SweepPoint> points;
  std::set<std::string> names;
  for (size_t i = 0; i < n; ++i) {
    SweepPoint p;
    p.index = static_cast<int>(i);
    size_t rest = i;
    std::vector<std::string> parts(s.axes.size());
    for (size_t a = s.axes.size(); a-- > 0;) {
      const auto& axis = s.axes[a];
      const std::string& v = axis.values[rest % axis.values.size()];
      rest /= axis.values.size();
      parts[a] = folder_safe(axis.key) + "-" + folder_safe(v);
      p.settings.insert(p.settings.begin(), {axis.key, v});
    }
    p.name = parts.empty() ? "base" : join(parts, "_");
    PELAB_CHECK(names.insert(p.name).second, s.source << ": two points are both named '" << p.name << "'",
                "axis values that differ only in characters other than letters, digits, '.', '+' and '-' "
                "give the same folder; rename one");
    p.dir = (fs::path(s.runs.empty() ? s.out : s.runs) / p.name).string();
    points.push_back(std::move(p));
  }
  return points;
}

long long point_train_length(const Sweep& s, const SweepPoint& p) {
  for (const auto& [k, v] : p.settings)
    if (k == "train.length") return parse_int(v, s.source + " axis train.length");
  for (const auto& [k, v] : s.set)
    if (k == "train.length") return parse_int(v, s.source + " [set] train.length");
  const std::string source = "config file '" + s.base_config + "'";
  const auto kv = ini_map(parse_ini(read_text(s.base_config, "the sweep's base config"), source));
  const auto it = kv.find("train.length");
  PELAB_CHECK(it != kv.end(), s.source << ": lengths are given as multiples of T but no train.length is set",
              "set train.length in the base config or the sweep's [set]");
  return parse_int(it->second, source + " train.length");
}

namespace {

bool has_multiple_of_T(const std::string& value) {
  for (const auto& item : split(value)) {
    const std::string t = trim(item);
    if (t.size() >= 2 && t.back() == 'T' && t.find_first_not_of("0123456789") == t.size() - 1) return true;
  }
  return false;
}

std::vector<std::string> train_command(const Sweep& s, const SweepPoint& p, const std::string& pelab) {
  std::vector<std::string> cmd = {pelab, "train", "--config", s.base_config, "--out", p.dir, "--quiet"};
  for (const auto& [k, v] : p.settings) cmd.insert(cmd.end(), {"--" + k, v});
  for (const auto& [k, v] : s.set) cmd.insert(cmd.end(), {"--" + k, v});
  return cmd;
}

std::vector<std::string> stage_command(const Sweep& s, const SweepStage& st, const SweepPoint& p,
                                       const std::string& pelab, long long T) {
  const std::string run = st.on.empty() ? p.dir : finetune_dir(p, st.on);
  std::vector<std::string> cmd = {pelab, st.command, "--run", run, "--label", st.label, "--quiet"};
  for (const auto& [k, v] : st.options) {
    const std::string where = s.source + " [" + st.command + "." + st.label + "] " + k;
    cmd.insert(cmd.end(), {"--" + k, has_multiple_of_T(v) ? expand_lengths(v, T, where) : v});
  }
  // A probe draws its examples from the point's seed: arms of one seed see the same examples (paired).
  auto has = [&](const char* key) {
    return std::any_of(st.options.begin(), st.options.end(), [&](const auto& kv) { return kv.first == key; });
  };
  if (st.command == "eval" && has("probe") && !has("seed"))
    for (const auto& [k, v] : p.settings)
      if (k == "train.seed") cmd.insert(cmd.end(), {"--seed", v});
  return cmd;
}

bool needs_train_length(const Sweep& s) {
  for (const auto& st : s.stages)
    for (const auto& [k, v] : st.options)
      if (has_multiple_of_T(v)) return true;
  for (const auto& f : s.finetunes)
    for (const auto& [k, v] : f.options)
      if (has_multiple_of_T(v)) return true;
  return false;
}

// "done": nothing to run; "resume": config.ini without a finished training; "": nothing there.
std::string training_state(const std::string& dir) {
  if (!fs::is_directory(dir)) return "";
  if (fs::exists(fs::path(dir) / kRunFile) &&
      h5::File::open_read((fs::path(dir) / kRunFile).string()).attr_string("status") == "done")
    return "done";
  return fs::exists(fs::path(dir) / kConfigFile) ? "resume" : "";
}

// The configuration a point's training saves as config.ini (`pelab train
// --print-config`), or "" when its options are bad (the training then fails
// with the message in the point's log).
std::string point_config(const Sweep& s, const SweepPoint& p, const std::string& pelab, const std::string& log) {
  std::vector<std::string> cmd = train_command(s, p, pelab);
  cmd.push_back("--print-config");
  const std::string printed = log + ".config.tmp";
  std::error_code ec;
  fs::remove(printed, ec);
  const bool self = pelab == self_executable();
  if (run_process(cmd, printed, {}, self ? kSelfExe : "") != 0) return "";
  const std::string text = read_text(printed, "printed configuration");
  fs::remove(printed, ec);
  return text;
}

// In a shared runs folder other sweeps, scripts or people make runs too. A
// point whose folder is missing becomes a link to a run there with the same
// training (training_difference), whatever its name: each model trains once;
// returns that run's name, or "". A point whose folder holds another training
// (the same name for other settings) is an error, not a silent reuse.
std::string resolve_shared_run(const Sweep& s, const SweepPoint& p, const std::string& pelab, const std::string& log) {
  if (s.runs.empty() || !fs::is_directory(s.runs)) return "";
  const bool exists = fs::exists(fs::symlink_status(p.dir));
  if (exists && !fs::is_regular_file(fs::path(p.dir) / kConfigFile)) return "";
  const std::string mine = point_config(s, p, pelab, log);
  if (mine.empty()) return "";
  if (exists) {
    const std::string diff = training_difference(mine, read_text((fs::path(p.dir) / kConfigFile).string(), "configuration"));
    PELAB_CHECK(diff.empty(), s.source << ": point " << p.name << " would reuse " << p.dir
                                       << ", a run with another training (" << diff << ", this point's value first)",
                "give this sweep its own runs folder (drop `runs`) or rename its axis values");
    return "";
  }
  std::error_code ec;
  std::vector<fs::path> runs;
  for (const auto& e : fs::directory_iterator(s.runs, ec))
    if (!fs::is_symlink(e.symlink_status()) && fs::is_regular_file(e.path() / kConfigFile)) runs.push_back(e.path());
  std::sort(runs.begin(), runs.end());
  for (const fs::path& run : runs) {
    try {
      if (!training_difference(mine, read_text((run / kConfigFile).string(), "configuration")).empty()) continue;
    } catch (const Error&) {
      continue;  // a damaged config.ini is that run's problem, not this point's
    }
    fs::create_directory_symlink(run.filename(), p.dir, ec);
    PELAB_CHECK(!ec, "cannot link " << p.dir << " to " << run.string() << ": " << ec.message(),
                "check that the runs folder is writable");
    return run.filename().string();
  }
  return "";
}

}  // namespace

std::string finetune_dir(const SweepPoint& p, const std::string& label) { return p.dir + "+" + label; }

std::vector<std::vector<std::string>> point_commands(const Sweep& s, const SweepPoint& p, const std::string& pelab) {
  std::vector<std::vector<std::string>> cmds = {train_command(s, p, pelab)};
  const long long T = needs_train_length(s) ? point_train_length(s, p) : 0;
  for (const auto& f : s.finetunes) {
    std::vector<std::string> cmd = {pelab, "train", "--init-from", p.dir, "--out", finetune_dir(p, f.label), "--quiet"};
    for (const auto& [k, v] : f.options) {
      const std::string where = s.source + " [finetune." + f.label + "] " + k;
      cmd.insert(cmd.end(), {"--" + k, has_multiple_of_T(v) ? expand_lengths(v, T, where) : v});
    }
    cmds.push_back(std::move(cmd));
  }
  for (const auto& st : s.stages) cmds.push_back(stage_command(s, st, p, pelab, T));
  return cmds;
}

std::vector<std::vector<std::string>> pending_commands(const Sweep& s, const SweepPoint& p, const std::string& pelab) {
  const std::vector<std::vector<std::string>> all = point_commands(s, p, pelab);
  std::vector<std::vector<std::string>> out;
  // The trainings: the point's, then its fine-tunes (each needs the point trained).
  std::vector<std::string> dirs = {p.dir};
  for (const auto& f : s.finetunes) dirs.push_back(finetune_dir(p, f.label));
  std::map<std::string, bool> trained;  // dir -> done before this run
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string state = training_state(dirs[i]);
    trained[dirs[i]] = state == "done";
    if (state == "resume") out.push_back({pelab, "train", "--resume", dirs[i], "--quiet"});
    else if (state.empty()) out.push_back(all[i]);
  }
  // The stages whose label is missing in the run they read.
  const size_t first_stage = dirs.size();
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const SweepStage& st = s.stages[i];
    const std::string dir = st.on.empty() ? p.dir : finetune_dir(p, st.on);
    bool done = false;
    if (trained[dir]) {
      const auto labels = RunFolder::open(dir).result_labels(st.command);
      done = std::find(labels.begin(), labels.end(), st.label) != labels.end();
    }
    if (!done) out.push_back(all[first_stage + i]);
  }
  return out;
}

int run_point(const Sweep& s, const SweepPoint& p, const std::string& pelab, int threads, std::string* failed,
              bool wait) {
  const fs::path logs = fs::path(s.out) / "logs";
  std::error_code ec;
  fs::create_directories(logs, ec);
  PELAB_CHECK(!ec, "cannot create " << logs.string() << ": " << ec.message(), "check the sweep's out folder");
  fs::create_directories(fs::path(p.dir).parent_path(), ec);
  PELAB_CHECK(!ec, "cannot create " << fs::path(p.dir).parent_path().string() << ": " << ec.message(),
              "check the sweep's runs folder");
  // Beside the run folder, not in it: the folder may not exist yet, or become a link.
  const FileLock lock((fs::path(p.dir).parent_path() / ("." + p.name + ".lock")).string(), /*wait=*/false);
  std::unique_ptr<FileLock> waited;
  if (!lock.held()) {
    if (!wait) return kRunningElsewhere;
    waited = std::make_unique<FileLock>((fs::path(p.dir).parent_path() / ("." + p.name + ".lock")).string(),
                                        /*wait=*/true);
  }
  const std::string log = (logs / (p.name + ".log")).string();
  const std::string same = resolve_shared_run(s, p, pelab, log);
  if (!same.empty()) append_line(log, "# " + now_text() + " " + p.dir + " -> " + same + " (a run with the same training)");
  for (const auto& cmd : pending_commands(s, p, pelab)) {
    append_line(log, "# " + now_text() + " (" + std::to_string(threads) + " threads)\n$ " + shell_command(cmd));
    // The commands name pelab by its path; this very binary runs them (kSelfExe), also after a rebuild.
    const bool self = cmd[0] == pelab && pelab == self_executable();
    const int rc = run_process(cmd, log, {{"OMP_NUM_THREADS", std::to_string(threads)}}, self ? kSelfExe : "");
    if (rc != 0) {
      append_line(log, "# exit status " + std::to_string(rc));
      if (failed) *failed = shell_command(cmd);
      return rc;
    }
  }
  return 0;
}

std::vector<std::string> bench_command(const SweepBench& b, const std::string& pelab) {
  std::vector<std::string> cmd = {pelab, "bench", b.topic, "--json"};
  for (const auto& [k, v] : b.options) {
    if (v == "true") cmd.push_back("--" + k);
    else cmd.insert(cmd.end(), {"--" + k, v});
  }
  return cmd;
}

std::string bench_file(const Sweep& s, const SweepBench& b) {
  return (fs::path(s.out) / "bench" / (b.label + ".jsonl")).string();
}

std::vector<std::string> run_benches(const Sweep& s, const std::string& pelab, int threads) {
  std::vector<std::string> failed;
  for (const auto& b : s.benches) {
    const std::string file = bench_file(s, b);
    if (fs::exists(file)) continue;
    std::error_code ec;
    fs::create_directories(fs::path(file).parent_path(), ec);
    fs::create_directories(fs::path(s.out) / "logs", ec);
    PELAB_CHECK(!ec, "cannot create folders under " << s.out << ": " << ec.message(), "check the sweep's out folder");
    const std::string log = (fs::path(s.out) / "logs" / ("bench-" + b.label + ".log")).string();
    const std::vector<std::string> cmd = bench_command(b, pelab);
    append_line(log, "# " + now_text() + " (" + std::to_string(threads) + " threads)\n$ " + shell_command(cmd));
    const std::string tmp = file + ".tmp";
    fs::remove(tmp, ec);
    const bool self = pelab == self_executable();
    const int rc = run_process(cmd, tmp, {{"OMP_NUM_THREADS", std::to_string(threads)}}, self ? kSelfExe : "");
    const std::string text = fs::exists(tmp) ? read_text(tmp, "benchmark output") : "";
    append_line(log, text + (rc ? "# exit status " + std::to_string(rc) : ""));
    if (rc != 0) {
      fs::remove(tmp, ec);
      failed.push_back(b.label);
      std::fprintf(stderr, "sweep %s: bench %s FAILED (see %s)\n", s.name.c_str(), b.label.c_str(), log.c_str());
      continue;
    }
    std::string lines;  // the JSON lines alone
    for (const auto& l : split(text, '\n'))
      if (!l.empty() && l[0] == '{') lines += l + "\n";
    write_text_atomic(file, lines);
    fs::remove(tmp, ec);
    std::fprintf(stderr, "sweep %s: bench %s done\n", s.name.c_str(), b.label.c_str());
  }
  return failed;
}

SweepRun run_sweep(const Sweep& s, const std::vector<SweepPoint>& points, const std::string& pelab, int jobs,
                   int threads, bool wait) {
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(points.size())));
  const int per_job = std::max(1, threads / jobs);
  std::atomic<size_t> next{0};
  std::atomic<int> finished{0};
  std::mutex mu;
  SweepRun out;
  auto worker = [&] {
    for (size_t i; (i = next++) < points.size();) {
      const SweepPoint& p = points[i];
      std::string failed, error;
      int rc = 0;
      try {
        rc = run_point(s, p, pelab, per_job, &failed, wait);
      } catch (const Error& e) {
        rc = -1;
        error = e.user_line();
      }
      std::lock_guard<std::mutex> lock(mu);
      const int k = ++finished;
      if (rc == 0) {
        std::fprintf(stderr, "sweep %s: [%d/%zu] %s done\n", s.name.c_str(), k, points.size(), p.name.c_str());
      } else if (rc == kRunningElsewhere) {
        out.running_elsewhere.push_back(p.name);
        std::fprintf(stderr, "sweep %s: [%d/%zu] %s is running elsewhere (another process holds it; --wait waits)\n",
                     s.name.c_str(), k, points.size(), p.name.c_str());
      } else {
        out.failed.push_back(p.name);
        std::fprintf(stderr, "sweep %s: [%d/%zu] %s FAILED: %s (see %s/logs/%s.log)\n", s.name.c_str(), k,
                     points.size(), p.name.c_str(), error.empty() ? ("exit " + std::to_string(rc) + ": " + failed).c_str()
                                                                  : error.c_str(),
                     s.out.c_str(), p.name.c_str());
      }
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < jobs; ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace pelab
