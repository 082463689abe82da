// `pelab bench attention` as a user meets it: bad inputs give one clear line
// and a non-zero exit; --json gives one parseable object per line and pass
// with the documented keys. Sizes are tiny: these check the plumbing, not speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "cli_runner.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;

// Fast settings for every successful run: no time floor, one timed run,
// a 10 ms FMA peak trial, a small correctness check.
const std::string kFast = " --min-time 0 --min-repeats 1 --peak-time 0.01 --check-seq 40";

class BenchCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pelab_bench_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void expect_clean_failure(const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    RunResult r = run_pelab(args, dir_);
    EXPECT_NE(r.rc, 0);
    EXPECT_LT(r.rc, 128) << "killed by a signal";
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("pelab: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos);
    EXPECT_TRUE(r.out.empty()) << "nothing measured, nothing printed: " << r.out;
  }

  fs::path dir_;
};

// A flat JSON object (string, number, true/false/null values) -> key to raw
// token (strings without their quotes). Fails the test on anything else.
std::map<std::string, std::string> parse_flat_json(const std::string& line) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  auto ws = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  auto string_at = [&]() -> std::string {
    EXPECT_EQ(line[i], '"') << line.substr(i);
    std::string s;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\') ++i;
      s += line[i];
    }
    ++i;
    return s;
  };
  ws();
  EXPECT_EQ(line[i], '{');
  ++i;
  while (true) {
    ws();
    if (line[i] == '}') break;
    const std::string key = string_at();
    ws();
    EXPECT_EQ(line[i], ':') << key;
    ++i;
    ws();
    std::string value;
    if (line[i] == '"') {
      value = string_at();
    } else {
      while (i < line.size() && line[i] != ',' && line[i] != '}') value += line[i++];
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
      const bool literal = value == "true" || value == "false" || value == "null";
      char* end = nullptr;
      std::strtod(value.c_str(), &end);
      EXPECT_TRUE(literal || (!value.empty() && *end == '\0')) << key << " = '" << value << "'";
    }
    EXPECT_EQ(out.count(key), 0u) << "duplicate key " << key;
    out[key] = value;
    ws();
    if (line[i] == ',') ++i;
  }
  ++i;
  ws();
  EXPECT_EQ(i, line.size()) << "trailing text: " << line.substr(std::min(i, line.size()));
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

double num(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  EXPECT_NE(it, m.end()) << "missing " << key;
  return it == m.end() ? NAN : std::strtod(it->second.c_str(), nullptr);
}

TEST_F(BenchCliTest, BadInputsGiveOneClearLine) {
  const std::string a = "bench attention";
  expect_clean_failure("bench", "missing bench topic");
  expect_clean_failure("bench --seq 64", "missing bench topic");
  expect_clean_failure("bench frobnicate --seq 64", "unknown bench topic 'frobnicate'");
  expect_clean_failure("bench attention --seq 64 --device gpu", "unknown --device 'gpu'");
  expect_clean_failure("bench attention --seq 64 --device cuda --impl naive", "--impl naive runs on the CPU only");
  expect_clean_failure("bench attention --seq 64 --dtype bf16", "--dtype bf16 runs on CUDA only");
  expect_clean_failure("bench attention --seq 64 --dtype fp8", "unknown --dtype 'fp8'");
  expect_clean_failure("bench attention extra --seq 64", "unexpected extra argument");
  expect_clean_failure(a, "missing --seq");
  expect_clean_failure(a + " --seq abc", "invalid value 'abc' for --seq");
  expect_clean_failure(a + " --seq 64,x", "invalid value 'x' for --seq");
  expect_clean_failure(a + " --seq 64,,128", "empty item in --seq");
  expect_clean_failure(a + " --seq 0", "--seq");
  expect_clean_failure(a + " --seq -64", "--seq");
  expect_clean_failure(a + " --seq 64 --head-dim 0", "--head-dim");
  expect_clean_failure(a + " --seq 64 --head-dim -8", "--head-dim");
  expect_clean_failure(a + " --seq 64 --head-dim 6.5", "invalid value '6.5' for --head-dim");
  expect_clean_failure(a + " --seq 64 --heads 0", "--heads");
  expect_clean_failure(a + " --seq 64 --batch -1", "--batch");
  expect_clean_failure(a + " --seq 64 --batch two", "invalid value 'two' for --batch");
  expect_clean_failure(a + " --seq 64 --threads 0", "--threads");
  expect_clean_failure(a + " --seq 64 --impl fast", "unknown --impl 'fast'");
  expect_clean_failure(a + " --seq 64 --pe rope", "unknown --pe 'rope'");
  expect_clean_failure(a + " --seq 64 --pe none,rope", "unknown --pe 'rope'");
  expect_clean_failure(a + " --seq 64 --pe none,none", "same variant twice");
  expect_clean_failure(a + " --seq 64 --mask sideways", "unknown --mask 'sideways'");
  expect_clean_failure(a + " --seq 64 --mask none --causal", "either --causal or --mask");
  expect_clean_failure(a + " --seq 64 --min-time -1", "--min-time");
  expect_clean_failure(a + " --seq 64 --frob 3", "unknown option");
  expect_clean_failure(a + " --seq 1000000 --impl naive", "--naive-limit-gb");
  expect_clean_failure(a + " --seq 4194304 --heads 4096 --head-dim 1024", "GB is available");
}

TEST_F(BenchCliTest, HelpListsTheTopic) {
  RunResult r = run_pelab("help", dir_);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("bench"), std::string::npos);
  r = run_pelab("help bench", dir_);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("attention"), std::string::npos);
  EXPECT_NE(r.out.find("--seq"), std::string::npos);
  EXPECT_EQ(r.out.find("--topic"), std::string::npos) << "the positional topic is not an option";
  EXPECT_EQ(run_pelab("bench --help", dir_).out, r.out);
}

TEST_F(BenchCliTest, JsonLinesCarryTheDocumentedKeys) {
  RunResult r = run_pelab("bench attention --seq 64,96 --head-dim 16 --heads 2 --causal --pe alibi --backward "
                          "--threads 1 --json" + kFast,
                          dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const char* passes[] = {"forward", "backward", "forward", "backward"};
  const double seqs[] = {64, 64, 96, 96};
  for (size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    const auto m = parse_flat_json(lines[i]);
    for (const char* key : {"impl", "seq", "head_dim", "heads", "batch", "causal", "pe", "pass", "gflops", "peak_gflops",
                            "ratio_to_peak", "seconds", "peak_rss_bytes", "ratio_to_naive", "naive_seconds", "threads",
                            "openblas_coretype", "repeats", "peak_gflops_low", "impl_peak_rss_bytes",
                            "call_rss_increase_bytes"})
      EXPECT_EQ(m.count(key), 1u) << key;
    EXPECT_EQ(m.at("impl"), "flash");
    EXPECT_EQ(m.at("pass"), passes[i]);
    EXPECT_EQ(num(m, "seq"), seqs[i]);
    EXPECT_EQ(num(m, "head_dim"), 16);
    EXPECT_EQ(num(m, "heads"), 2);
    EXPECT_EQ(num(m, "batch"), 1);
    EXPECT_EQ(m.at("causal"), "true");
    EXPECT_EQ(m.at("pe"), "alibi");
    EXPECT_EQ(num(m, "threads"), 1);
    EXPECT_GE(num(m, "repeats"), 1);
    // FlashAttention-2 convention: 4·N²·D·H·B, halved when causal, backward 2.5×.
    const double n = seqs[i], fwd = 4 * n * n * 16 * 2 / 2;
    const double flops = i % 2 ? 2.5 * fwd : fwd;
    const double secs = num(m, "seconds"), gflops = num(m, "gflops"), peak = num(m, "peak_gflops");
    EXPECT_GT(secs, 0);
    EXPECT_NEAR(gflops, flops / secs / 1e9, 1e-4 * gflops);
    EXPECT_GT(peak, 0);
    EXPECT_NEAR(num(m, "ratio_to_peak"), gflops / peak, 1e-4 * gflops / peak);
    EXPECT_NEAR(num(m, "ratio_to_naive"), num(m, "naive_seconds") / secs, 1e-3 * num(m, "ratio_to_naive"));
    EXPECT_GT(num(m, "peak_rss_bytes"), 1e6);
    EXPECT_LT(num(m, "check_max_err_o"), num(m, "check_tol_o"));
    EXPECT_LT(num(m, "check_max_err_grad"), num(m, "check_tol_grad"));
  }
}

TEST_F(BenchCliTest, MaskAndPeListsGiveOneLinePerVariantAndPass) {
  RunResult r = run_pelab("bench attention --seq 32 --head-dim 8 --heads 2 --mask none,causal --pe none,alibi --backward "
                          "--json" + kFast,
                          dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 8u) << r.out;
  std::set<std::string> seen;
  for (const auto& l : lines) {
    const auto m = parse_flat_json(l);
    EXPECT_EQ(num(m, "variants"), 4);
    EXPECT_NE(m.at("ratio_to_naive"), "null");
    seen.insert(m.at("causal") + "/" + m.at("pe") + "/" + m.at("pass"));
  }
  EXPECT_EQ(seen.size(), 8u) << "every mask x pe x pass once";
  EXPECT_TRUE(seen.count("true/alibi/backward"));
  EXPECT_TRUE(seen.count("false/none/forward"));
}

TEST_F(BenchCliTest, NaiveBeyondTheLimitIsNull) {
  RunResult r = run_pelab("bench attention --seq 32 --head-dim 8 --heads 1 --naive-limit-gb 0 --json" + kFast, dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const auto m = parse_flat_json(lines[0]);
  EXPECT_EQ(m.at("pass"), "forward");
  EXPECT_EQ(m.at("ratio_to_naive"), "null");
  EXPECT_EQ(m.at("naive_seconds"), "null");
  EXPECT_EQ(m.at("check_max_err_grad"), "null") << "no backward, no backward check";
}

TEST_F(BenchCliTest, TablePrintsOneRowPerPass) {
  RunResult r = run_pelab("bench attention --seq 48 --head-dim 8 --heads 2 --impl naive --backward" + kFast, dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("check: flash vs naive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("forward      48"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backward     48"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("naive"), std::string::npos) << r.out;
}


// `pelab bench train` on a model small enough to take a fraction of a second.
const std::string kTinyModel =
    " --model.d-model 32 --model.n-layers 2 --model.n-heads 2 --train.length 32 --train.batch 2"
    " --steps 2 --warmup-steps 1 --peak-time 0.01 --threads 1";

TEST_F(BenchCliTest, TrainJsonCarriesTheDocumentedKeysAndFormula) {
  RunResult r = run_pelab("bench train --json --pe alibi" + kTinyModel, dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const auto m = parse_flat_json(lines[0]);
  for (const char* key : {"tokens_per_s", "model_gflops", "peak_gflops", "mfu", "step_seconds", "matmul_fraction",
                          "attention_fraction", "other_fraction", "matmul_gflops", "attention_gflops", "params",
                          "openblas_coretype", "threads"})
    EXPECT_EQ(m.count(key), 1u) << key;
  EXPECT_EQ(m.at("topic"), "train");
  EXPECT_EQ(m.at("pe"), "alibi");
  EXPECT_EQ(num(m, "steps"), 2);
  EXPECT_EQ(num(m, "threads"), 1);
  // 6·P + 12·L·C·T per token (ALiBi has no parameters of its own).
  const double P = num(m, "params"), per_token = 6 * P + 12 * 2 * 32 * 32;
  EXPECT_EQ(num(m, "model_flops_per_token"), per_token);
  const double step = num(m, "step_seconds");
  EXPECT_GT(step, 0);
  EXPECT_NEAR(num(m, "tokens_per_s"), 64 / step, 1e-4 * num(m, "tokens_per_s"));
  EXPECT_NEAR(num(m, "model_gflops"), per_token * 64 / step / 1e9, 1e-4 * num(m, "model_gflops"));
  EXPECT_NEAR(num(m, "mfu"), num(m, "model_gflops") / num(m, "peak_gflops"), 1e-4 * num(m, "mfu"));
  EXPECT_GT(num(m, "matmul_fraction"), 0);
  EXPECT_GT(num(m, "attention_fraction"), 0);
  EXPECT_GE(num(m, "other_fraction"), 0);
  EXPECT_NEAR(num(m, "matmul_fraction") + num(m, "attention_fraction") + num(m, "other_fraction"), 1.0, 1e-3);
}

TEST_F(BenchCliTest, TrainTableAndBadInputs) {
  RunResult r = run_pelab("bench train" + kTinyModel + " --pe rope --impl naive", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("MFU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("naive attention"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("matrix products"), std::string::npos) << r.out;
  // The same model with one setting made bad (each option once: repeating one is itself an error).
  const std::string base = "bench train --model.d-model 32 --model.n-layers 2 --train.batch 2 --peak-time 0.01";
  const std::string ok = " --model.n-heads 2 --train.length 32";
  expect_clean_failure(base + ok + " --steps 0", "--steps must be in [1, 100000]");
  expect_clean_failure(base + ok + " --impl fast", "unknown --impl 'fast'");
  expect_clean_failure(base + " --model.n-heads 3 --train.length 32", "does not divide");
  expect_clean_failure(base + ok + " --pe rope,alibi", "exactly one encoding");
  expect_clean_failure(base + " --model.n-heads 2 --pe learned --train.length 64 --model.max-len 32",
                       "exceeds --model.max-len");
  expect_clean_failure("bench train --config missing.ini", "cannot be opened");
}

}  // namespace
}  // namespace pelab
