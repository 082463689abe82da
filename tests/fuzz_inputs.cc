// Bad input never crashes (docs/design.md "Failure model"): a seeded,
// deterministic fuzz of every reader of user input, run as a user would run
// pelab (a child process per case, under the asan preset in CI):
//   - option values: every option of decay, data, train, bench, eval, analyze and sweep takes
//     values from a list of nasty ones (overflow, NaN, junk, empty lists, ...);
//   - --config files and sweep files: a valid INI mutated (bytes, lines, sections, values);
//   - dataset.h5, checkpoint.h5 and run.h5: truncated at random offsets,
//     random bytes flipped, bytes appended, swapped for a file of another
//     command, and structurally forged (an object or attribute deleted, a
//     dataset of the wrong type or shape, an attribute of the wrong type or an
//     impossible value) and then resealed, so that pelab's own checks, not the
//     seal, must catch them.
// Every case must end with exit 0, or with exactly one "pelab: error: ..."
// line and a small non-zero exit code: never a signal, a hang, a sanitizer
// report, an "unexpected failure" (an exception pelab did not anticipate),
// a temporary left behind, or an unsealed (partial) file under a real name.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.h"
#include "core/hdf5_file.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

// Cases per family; PELAB_FUZZ_SCALE multiplies them (e.g. 10 for a long local run).
int scaled(int n) {
  const char* s = std::getenv("PELAB_FUZZ_SCALE");
  return s ? std::max(1, static_cast<int>(n * std::atof(s))) : n;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

struct Outcome {
  int rc = 0;
  int signal = 0;
  bool timed_out = false;
  std::string err;
};

// Runs the pelab binary with `args` in `cwd`, stdout discarded, stderr kept.
Outcome run_pelab(const Args& args, const fs::path& cwd, int timeout_s = 60) {
  const fs::path err_file = cwd / ".stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(126);
    const int in = open("/dev/null", O_RDONLY), out = open("/dev/null", O_WRONLY);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0), dup2(out, 1), dup2(err, 2);
    std::vector<char*> argv{const_cast<char*>(PELAB_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(PELAB_BINARY, argv.data());
    _exit(127);
  }
  Outcome o;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      o.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) o.rc = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  o.err = slurp(err_file);
  fs::remove(err_file);
  return o;
}

// "" when the outcome is acceptable, else what is wrong.
std::string judge(const Outcome& o) {
  if (o.timed_out) return "hung (killed after the timeout)";
  if (o.signal) return "killed by signal " + std::to_string(o.signal);
  for (const char* bad : {"AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"})
    if (o.err.find(bad) != std::string::npos) return std::string("sanitizer report: ") + bad;
  if (o.rc == 0) return "";
  if (o.rc >= 64) return "exit code " + std::to_string(o.rc);
  // Notes (e.g. "pelab train: note: ...") may precede the error line.
  const size_t at = o.err.rfind("pelab: error: ");
  if (at == std::string::npos || (at != 0 && o.err[at - 1] != '\n')) return "no 'pelab: error:' line";
  const std::string line = o.err.substr(at);
  if (std::count(line.begin(), line.end(), '\n') != 1 || line.back() != '\n') return "the error is not one line";
  if (line.find("unexpected failure") != std::string::npos) return "an unanticipated exception";
  return "";
}

// No temporary and no unsealed HDF5 file anywhere below `dir`.
std::string check_outputs(const fs::path& dir, bool sealed) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find(".tmp-") != std::string::npos) return "temporary left behind: " + it->path().string();
    if (sealed && it->is_regular_file() && it->path().extension() == ".h5" && !h5::check_seal(it->path().string()).empty())
      return "partial or unsealed file: " + it->path().string();
  }
  return "";
}

const std::vector<std::string>& nasty_values() {
  static const std::vector<std::string> v = {
      "", " ", "0", "-1", "1", "-0", "2", "3.5", "1e-320", "2147483648", "-2147483649", "9223372036854775808",
      "99999999999999999999", "1e308", "1e309", "-1e309", "nan", "inf", "-inf", "0x10", "abc", ",", "1,", ",1",
      "1,,2", "\xff\xfe", "\xc3\xbc", "1 2", "--", "true", "none", "rope,alibi", std::string(3000, '7'), "1e6",
      "=", "[x]", "#", "a/b", "..", "none,causal"};
  return v;
}

// The long names of every option a command takes.
std::vector<std::string> command_options_for_fuzz(const std::string& command) {
  std::vector<std::string> names;
  const std::unique_ptr<cli::CommandOptions> desc = cli::command_options(command);
  for (const auto& opt : desc->all.options()) names.push_back(opt->long_name());
  return names;
}

fs::path g_root;  // the fixture's folder: inputs every case copies or links

// ------------------------------------------------------------ fixture

class FuzzTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    h5::silence_library_errors();
    root_ = fs::temp_directory_path() / ("pelab_fuzz_" + std::to_string(getpid()));
    g_root = root_;
    fs::remove_all(root_);
    fs::create_directories(root_ / "texts");
    for (int i = 0; i < 8; ++i) {
      std::string t;
      for (int j = 0; j < 40; ++j) t += "line " + std::to_string(j) + " of file " + std::to_string(i) + ", some words.\n";
      spit(root_ / "texts" / ("f" + std::to_string(i) + ".txt"), t);
    }
    ok_ = run_pelab({"data", "prepare", "--corpus", "texts", "--out", "data", "--data.val-fraction", "0.2",
                     "--data.test-fraction", "0.2"}, root_).rc == 0 &&
          run_pelab(train_base("run"), root_).rc == 0 &&
          run_pelab({"decay", "--pe", "rope", "--head-dim", "16", "--max-distance", "32", "--out", "decay.h5"}, root_).rc == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  void SetUp() override { ASSERT_TRUE(ok_) << "could not prepare the inputs in " << root_; }

  // A tiny model: d 16, 1 layer, T 16, 3 steps (milliseconds per step).
  static Args train_base(const std::string& out) {
    return {"train", "--pe", "rope", "--model.d-model", "16", "--model.n-layers", "1", "--model.n-heads", "2",
            "--train.length", "16", "--train.batch", "2", "--train.steps", "3", "--train.stop-at", "3", "--train.eval-batches", "1",
            "--train.eval-every", "2", "--train.checkpoint-every", "2", "--train.threads", "1", "--data.dir", "data",
            "--out", out, "--quiet"};
  }

  // Runs one case in a fresh folder `case/` (inputs copied there by `prepare`).
  // sealed_outputs: also require every .h5 file under case/o to be sealed
  // (off when o/ holds the damaged input itself).
  void run_case(const std::string& what, const Args& args, const std::function<void(const fs::path&)>& prepare = {},
                bool sealed_outputs = true) {
    const fs::path dir = root_ / "case";
    fs::remove_all(dir);
    fs::create_directories(dir / "o");
    fs::create_symlink(root_ / "data", dir / "data");
    fs::create_symlink(root_ / "texts", dir / "texts");
    if (prepare) prepare(dir);
    const Outcome o = run_pelab(args, dir);
    std::string bad = judge(o);
    if (bad.empty()) bad = check_outputs(dir / "o", sealed_outputs);
    ++cases_;
    if (!bad.empty()) {
      std::string cmd;
      for (const auto& a : args) cmd += " '" + (a.size() > 60 ? a.substr(0, 60) + "..." : a) + "'";
      // Keep the case for a look: its folder, inputs included.
      const fs::path kept = fs::temp_directory_path() / ("pelab_fuzz_failed_" + std::to_string(getpid()) + "_" +
                                                         std::to_string(failures_));
      std::error_code ec;
      fs::remove_all(kept, ec);
      fs::copy(dir, kept, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
      ADD_FAILURE() << what << ": " << bad << "\n  pelab" << cmd << "\n  stderr: " << o.err.substr(0, 2000)
                    << "\n  case kept in " << kept.string();
      if (++failures_ > 20) FAIL() << "too many failures";
    }
  }

  static fs::path root_;
  static bool ok_;
  int cases_ = 0, failures_ = 0;
};

fs::path FuzzTest::root_;
bool FuzzTest::ok_ = false;

// ------------------------------------------------------------ option values

struct CommandCase {
  std::string command;  // for command_options
  Args base;
  bool needs_run = false;  // a copy of the trained run in o/run
  bool needs_sweep = false;  // sweep.ini and its base.ini
};

const char* kFuzzBaseIni =
    "pe = rope\n[model]\nd-model = 16\nn-layers = 1\nn-heads = 2\nnorm = rmsnorm\n[train]\nlength = 16\nbatch = 2\n"
    "steps = 3\nlr = 1e-3\nwarmup = 1\neval-batches = 1\nthreads = 1\n[pe]\nbase = 10000\n[data]\ndir = data\n";
const char* kFuzzSweepIni =
    "[sweep]\nname = fz\nconfig = base.ini\nout = o/sweep\n[axes]\npe = rope, alibi\ntrain.seed = 1, 2\n"
    "[set]\ntrain.steps = 2\n[eval.nonoverlap]\nlengths = 1T, 2T\n[analyze.default]\nlength = 2T\n";

TEST_F(FuzzTest, OptionValues) {
  const std::vector<CommandCase> commands = {
      {"decay", {"decay", "--pe", "rope", "--head-dim", "16", "--heads", "2", "--max-distance", "64", "--out", "o/d.h5"}},
      {"data", {"data", "prepare", "--corpus", "texts", "--out", "o/data"}},
      {"data", {"data", "info", "--dir", "data"}},
      {"train", [] {
         Args a = train_base("o/run");
         a[a.size() - 1] = "--quiet";
         return a;
       }()},
      {"bench", {"bench", "attention", "--seq", "32", "--head-dim", "16", "--heads", "2", "--min-time", "0.001",
                 "--min-repeats", "1", "--peak-time", "0.01", "--check-seq", "16", "--naive-limit-gb", "0.1"}},
      {"bench", {"bench", "train", "--pe", "rope", "--model.d-model", "16", "--model.n-layers", "1", "--model.n-heads",
                 "2", "--train.length", "16", "--train.batch", "2", "--steps", "1", "--warmup-steps", "0",
                 "--peak-time", "0.01"}},
      {"eval", {"eval", "--run", "o/run", "--lengths", "8,16", "--protocol", "both", "--stride", "4", "--threads", "1",
                "--quiet"}, true},
      {"analyze", {"analyze", "--run", "o/run", "--length", "16", "--windows", "2", "--pairs", "8", "--threads", "1",
                   "--quiet"}, true},
      // --dry-run stays: a fuzzed value never starts the sweep's trainings.
      {"sweep", {"sweep", "--config", "sweep.ini", "--dry-run"}, false, true},
  };
  std::mt19937_64 rng(1);
  const int per_command = scaled(220);
  for (const auto& c : commands) {
    std::vector<std::string> names;
    for (const auto& opt : command_options_for_fuzz(c.command))
      if (opt != "help" && opt != "config") names.push_back(opt);
    for (int i = 0; i < per_command; ++i) {
      Args args = c.base;
      const int changes = 1 + (rng() % 5 == 0 ? 1 + rng() % 2 : 0);
      for (int k = 0; k < changes; ++k) {
        const std::string& name = names[rng() % names.size()];
        const std::string& value = nasty_values()[rng() % nasty_values().size()];
        auto it = std::find(args.begin(), args.end(), "--" + name);
        if (it != args.end() && it + 1 != args.end() && (it + 1)->rfind("--", 0) != 0) *(it + 1) = value;
        else args.insert(args.end(), {"--" + name, value});
      }
      // A valid --train.tokens or --train.steps can ask for hours of training;
      // --train.stop-at bounds the case unless it is the option being fuzzed.
      auto value = [&](const char* o) {
        const auto it = std::find(args.begin(), args.end(), o);
        return it == args.end() || it + 1 == args.end() ? std::string("(none)") : *(it + 1);
      };
      if (c.base[0] == "train" && value("--train.stop-at") != "3" &&
          (value("--train.tokens") != "(none)" || value("--train.steps") != "3"))
        continue;
      std::function<void(const fs::path&)> prepare;
      if (c.needs_run)
        prepare = [](const fs::path& d) { fs::copy(g_root / "run", d / "o" / "run", fs::copy_options::recursive); };
      if (c.needs_sweep)
        prepare = [](const fs::path& d) {
          spit(d / "sweep.ini", kFuzzSweepIni);
          spit(d / "base.ini", kFuzzBaseIni);
        };
      run_case("option values of " + c.base[0] + " " + c.base[1], args, prepare);
    }
  }
  std::printf("fuzz: %d option-value cases\n", cases_);
}

// ------------------------------------------------------------ INI files

std::string mutate_text(const std::string& text, std::mt19937_64& rng) {
  std::string s = text;
  const int kind = static_cast<int>(rng() % 7);
  auto lines = [&] {
    std::vector<std::string> l;
    std::istringstream in(s);
    for (std::string x; std::getline(in, x);) l.push_back(x);
    return l;
  };
  auto join_lines = [](const std::vector<std::string>& l) {
    std::string o;
    for (const auto& x : l) o += x + "\n";
    return o;
  };
  switch (kind) {
    case 0:  // flip bytes
      for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n && !s.empty(); ++i) s[rng() % s.size()] ^= static_cast<char>(1 + rng() % 255);
      break;
    case 1:  // delete a range
      if (!s.empty()) {
        const size_t a = rng() % s.size();
        s.erase(a, rng() % 40);
      }
      break;
    case 2: {  // duplicate or drop a line
      auto l = lines();
      if (!l.empty()) {
        const size_t i = rng() % l.size();
        if (rng() % 2) l.insert(l.begin() + static_cast<long>(i), l[i]);
        else l.erase(l.begin() + static_cast<long>(i));
      }
      s = join_lines(l);
      break;
    }
    case 3: {  // a nasty value for a key
      auto l = lines();
      std::vector<size_t> keys;
      for (size_t i = 0; i < l.size(); ++i)
        if (l[i].find('=') != std::string::npos) keys.push_back(i);
      if (!keys.empty()) {
        std::string& x = l[keys[rng() % keys.size()]];
        x = x.substr(0, x.find('=') + 1) + " " + nasty_values()[rng() % nasty_values().size()];
      }
      s = join_lines(l);
      break;
    }
    case 4: {  // junk lines and headers
      const char* junk[] = {"[", "[]", "[model", "= 3", "key", "[train]\n[train]", "pe = rope\npe = alibi",
                            "unknown = 1", "[nosuch]\nx = 1", "\x01\x02", "config = other.ini", "[model]\nd-model"};
      auto l = lines();
      l.insert(l.begin() + static_cast<long>(rng() % (l.size() + 1)), junk[rng() % (sizeof junk / sizeof *junk)]);
      s = join_lines(l);
      break;
    }
    case 5:  // truncated
      s.resize(rng() % (s.size() + 1));
      break;
    default:  // binary junk
      s.clear();
      for (int i = 0, n = static_cast<int>(rng() % 200); i < n; ++i) s += static_cast<char>(rng() % 256);
  }
  return s;
}

TEST_F(FuzzTest, ConfigFiles) {
  const std::string train_ini =
      "pe = rope\n[model]\nd-model = 16\nn-layers = 1\nn-heads = 2\nnorm = rmsnorm\n[train]\nlength = 16\nbatch = 2\n"
      "steps = 3\nlr = 1e-3\nwarmup = 1\neval-batches = 1\nthreads = 1\n[pe]\nbase = 10000\n[data]\ndir = data\n";
  const std::string decay_ini =
      "pe = rope,alibi\nhead-dim = 16\nheads = 4\nmax-distance = 64\n[pe]\nbase = 10000,500000\nscaling = none,yarn\n"
      "factor = 4\noriginal-length = 32\n";
  std::mt19937_64 rng(2);
  const int n = scaled(900);
  for (int i = 0; i < n; ++i) {
    const int kind = i % 3;  // train config, decay config, sweep file (its base config intact)
    std::string ini = kind == 0 ? train_ini : kind == 1 ? decay_ini : std::string(kFuzzSweepIni);
    for (int k = 0, m = 1 + static_cast<int>(rng() % 3); k < m; ++k) ini = mutate_text(ini, rng);
    const Args args = kind == 0 ? Args{"train", "--config", "cfg.ini", "--out", "o/run", "--quiet", "--train.steps", "2"}
                      : kind == 1 ? Args{"decay", "--config", "cfg.ini", "--out", "o/d.h5"}
                                  : Args{"sweep", "--config", "cfg.ini", "--dry-run"};
    run_case(std::string("a mutated ") + (kind == 0 ? "train" : kind == 1 ? "decay" : "sweep") + " file", args,
             [&](const fs::path& d) {
               spit(d / "cfg.ini", ini);
               spit(d / "base.ini", kFuzzBaseIni);
             });
  }
  std::printf("fuzz: %d config-file cases\n", cases_);
}

// ------------------------------------------------------------ HDF5 files

// Every object path and every (object, attribute) of a file.
struct H5Inventory {
  std::vector<std::string> objects;   // "/train/loss"
  std::vector<bool> is_dataset;
  std::vector<std::pair<std::string, std::string>> attrs;
};

H5Inventory inventory(hid_t file) {
  H5Inventory inv;
  inv.objects.push_back("/");
  inv.is_dataset.push_back(false);
  auto cb = [](hid_t, const char* name, const H5O_info_t* info, void* op) -> herr_t {
    auto* v = static_cast<H5Inventory*>(op);
    if (std::strcmp(name, ".") == 0) return 0;
    v->objects.push_back(std::string("/") + name);
    v->is_dataset.push_back(info->type == H5O_TYPE_DATASET);
    return 0;
  };
  H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, cb, &inv);
  for (const auto& obj : inv.objects) {
    h5::Handle o(H5Oopen(file, obj.c_str(), H5P_DEFAULT), H5Oclose);
    auto acb = [](hid_t, const char* name, const H5A_info_t*, void* op) -> herr_t {
      static_cast<std::vector<std::string>*>(op)->push_back(name);
      return 0;
    };
    std::vector<std::string> names;
    hsize_t idx = 0;
    H5Aiterate2(o.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, acb, &names);
    for (const auto& n : names) inv.attrs.emplace_back(obj, n);
  }
  return inv;
}

// A structural change made with HDF5 itself, then resealed: the seal is
// valid, so pelab's own checks must refuse (or survive) what the file holds.
void forge(const std::string& path, std::mt19937_64& rng) {
  {
    h5::Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(f.valid()) << path;
    const H5Inventory inv = inventory(f.get());
    const int kind = static_cast<int>(rng() % 6);
    auto scalar_space = [] { return h5::Handle(H5Screate(H5S_SCALAR), H5Sclose); };
    if (kind == 0 && inv.objects.size() > 1) {  // delete an object
      const std::string& o = inv.objects[1 + rng() % (inv.objects.size() - 1)];
      H5Ldelete(f.get(), o.c_str(), H5P_DEFAULT);
    } else if (kind <= 2 && !inv.objects.empty()) {  // a dataset of the wrong type or shape
      std::vector<size_t> ds;
      for (size_t i = 0; i < inv.objects.size(); ++i)
        if (inv.is_dataset[i]) ds.push_back(i);
      if (ds.empty()) return;
      const std::string o = inv.objects[ds[rng() % ds.size()]];
      H5Ldelete(f.get(), o.c_str(), H5P_DEFAULT);
      const hsize_t shapes[][2] = {{0, 0}, {1, 0}, {7, 0}, {2, 3}, {5000, 0}};
      const auto& sh = shapes[rng() % 5];
      const int rank = sh[1] ? 2 : 1;
      h5::Handle space(rank == 2 || sh[0] != 1 ? H5Screate_simple(rank, sh, nullptr) : H5Screate(H5S_SCALAR), H5Sclose);
      hid_t types[] = {H5T_NATIVE_INT8, H5T_NATIVE_DOUBLE, H5T_NATIVE_INT64, H5T_NATIVE_FLOAT};
      const hid_t type = types[rng() % 4];
      h5::Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
      H5Pset_create_intermediate_group(lcpl.get(), 1);
      h5::Handle d(H5Dcreate2(f.get(), o.c_str(), type, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
      const hssize_t n = H5Sget_simple_extent_npoints(space.get());
      std::vector<double> vals(static_cast<size_t>(std::max<hssize_t>(n, 1)));
      for (auto& x : vals) x = static_cast<double>(static_cast<int64_t>(rng() % 2000) - 1000);
      if (n > 0) H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals.data());
    } else if (kind == 3 && !inv.attrs.empty()) {  // delete an attribute
      const auto& [o, a] = inv.attrs[rng() % inv.attrs.size()];
      H5Adelete_by_name(f.get(), o.c_str(), a.c_str(), H5P_DEFAULT);
    } else if (kind == 4 && !inv.attrs.empty()) {  // an attribute of another type, or an impossible value
      const auto& [o, a] = inv.attrs[rng() % inv.attrs.size()];
      H5Adelete_by_name(f.get(), o.c_str(), a.c_str(), H5P_DEFAULT);
      h5::Handle obj(H5Oopen(f.get(), o.c_str(), H5P_DEFAULT), H5Oclose);
      const int v = static_cast<int>(rng() % 5);
      if (v == 0) {
        h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(type.get(), H5T_VARIABLE);
        const char* text = rng() % 2 ? "x" : "pe = rope\n[model]\nd-model = 100000\n";
        h5::Handle at(H5Acreate2(obj.get(), a.c_str(), type.get(), scalar_space().get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        H5Awrite(at.get(), type.get(), &text);
      } else {
        const double values[] = {-1, 1e18, std::nan(""), 0, 3e9};
        const double x = values[rng() % 5];
        const hsize_t len = v == 4 ? 5 : 1;
        h5::Handle space(v == 4 ? H5Screate_simple(1, &len, nullptr) : H5Screate(H5S_SCALAR), H5Sclose);
        const hid_t type = v == 2 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
        std::vector<double> buf(len, x);
        h5::Handle at(H5Acreate2(obj.get(), a.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        H5Awrite(at.get(), H5T_NATIVE_DOUBLE, buf.data());
      }
    } else {  // a stray group where a dataset might be expected
      const char* names[] = {"/params", "/train/loss", "/val", "/train/tokens", "/eval"};
      const char* n = names[rng() % 5];
      if (H5Lexists(f.get(), n, H5P_DEFAULT) > 0) H5Ldelete(f.get(), n, H5P_DEFAULT);
      h5::Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
      H5Pset_create_intermediate_group(lcpl.get(), 1);
      h5::Handle g(H5Gcreate2(f.get(), n, lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    }
  }
  h5::seal_file(path);
}

// A damaged copy of `original` written to `path`.
void damage(const fs::path& original, const fs::path& path, std::mt19937_64& rng) {
  std::string bytes = slurp(original);
  const int kind = static_cast<int>(rng() % 8);
  switch (kind) {
    case 0:  // truncated
      bytes.resize(rng() % bytes.size());
      spit(path, bytes);
      break;
    case 1:  // bytes flipped (seal included)
    case 2:
      for (int i = 0, n = 1 + static_cast<int>(rng() % 8); i < n; ++i)
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
      spit(path, bytes);
      break;
    case 3:  // appended to
      bytes += std::string(1 + rng() % 100, static_cast<char>(rng()));
      spit(path, bytes);
      break;
    case 4:  // a file of another kind
    {
      const fs::path others[] = {g_root / "decay.h5", g_root / "data" / "dataset.h5",
                                 g_root / "run" / "checkpoint.h5", g_root / "run" / "run.h5",
                                 g_root / "run" / "config.ini"};
      fs::copy_file(others[rng() % 5], path, fs::copy_options::overwrite_existing);
      break;
    }
    case 5:  // empty, or a folder
      if (rng() % 2) spit(path, "");
      else fs::create_directories(path);
      break;
    default:  // forged structure, resealed
      spit(path, bytes);
      forge(path.string(), rng);
  }
}

TEST_F(FuzzTest, DamagedFiles) {
  std::mt19937_64 rng(3);
  const int n = scaled(1000);
  const fs::path root = root_;
  for (int i = 0; i < n; ++i) {
    // dataset.h5 read by data info and train; checkpoint.h5 and run.h5 by train --resume.
    const int target = i % 4;
    const int seed = static_cast<int>(rng());
    if (target == 0 || target == 1) {
      const Args args = target == 0 ? Args{"data", "info", "--dir", "mine"}
                                    : [&] {
                                        Args a = train_base("o/run");
                                        a[std::find(a.begin(), a.end(), "--data.dir") - a.begin() + 1] = "mine";
                                        return a;
                                      }();
      run_case("a damaged dataset.h5", args, [&](const fs::path& d) {
        fs::create_directories(d / "mine");
        std::mt19937_64 r(seed);
        fs::remove(d / "mine" / "dataset.h5");
        damage(root / "data" / "dataset.h5", d / "mine" / "dataset.h5", r);
      });
    } else {
      const char* file = target == 2 ? "checkpoint.h5" : "run.h5";
      run_case(std::string("a damaged ") + file, {"train", "--resume", "o/run", "--quiet", "--data.dir", "data"},
               [&](const fs::path& d) {
                 fs::copy(root / "run", d / "o" / "run", fs::copy_options::recursive);
                 std::mt19937_64 r(seed);
                 fs::remove(d / "o" / "run" / file);
                 damage(root / "run" / file, d / "o" / "run" / file, r);
               },
               /*sealed_outputs=*/false);
    }
  }
  std::printf("fuzz: %d damaged-file cases\n", cases_);
}

}  // namespace
}  // namespace pelab
