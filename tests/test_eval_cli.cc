// `pelab eval` as a user meets it, on a tiny model trained on a synthetic
// text folder: the protocols against each other and against the training
// code's own loss, eval-time encoding changes, the run file kept intact, and
// each bad input giving one clear line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/options.h"
#include "cli_runner.h"
#include "core/hdf5_file.h"
#include "core/json_line.h"
#include "core/ini.h"
#include "datasets/dataset.h"
#include "experiments/run_folder.h"
#include "model/transformer.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;
using testing::expect_clean_failure;

const int64_t kT = 32;

class EvalCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pelab_eval_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "texts");
    const char* words[] = {"the", "lord", "said", "unto", "moses", "and", "his", "people", "went", "forth"};
    for (int i = 0; i < 10; ++i) {
      std::string t;
      for (int j = 0; j < 80; ++j) {
        for (int k = 0; k < 6; ++k) t += std::string(words[(i + j * 3 + k * 7) % 10]) + (k < 5 ? " " : "");
        t += ".\n";
      }
      std::ofstream(dir_ / "texts" / ("f" + std::to_string(i) + ".txt")) << t;
    }
    std::ofstream(dir_ / "short.txt") << "too short";
    ok_ = run_pelab("data prepare --corpus texts --out data --data.val-fraction 0.15 --data.test-fraction 0.15", dir_).rc == 0;
    for (const char* pe : {"rope", "alibi"}) {
      const std::string args = std::string("train --pe ") + pe +
                               " --model.d-model 32 --model.n-layers 1 --model.n-heads 2 --train.length 32 "
                               "--train.batch 8 --train.steps 40 --train.lr 1e-2 --train.warmup 5 --train.threads 2 "
                               "--data.dir data --quiet --out " + pe;
      ok_ = ok_ && run_pelab(args, dir_).rc == 0;
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override { ASSERT_TRUE(ok_) << "could not train the test runs in " << dir_; }

  static RunResult eval(const std::string& args) { return run_pelab("eval --quiet --threads 2 " + args, dir_); }

  static std::vector<double> read(const std::string& run, const std::string& name) {
    h5::File f = h5::File::open_read((dir_ / run / "run.h5").string());
    return f.read<double>(name);
  }

  static fs::path dir_;
  static bool ok_;
};

fs::path EvalCliTest::dir_;
bool EvalCliTest::ok_ = false;

TEST_F(EvalCliTest, NonoverlapAtTrainingLengthIsTheTrainingCodesLoss) {
  RunResult r = eval("--run rope --lengths 32 --label at-T --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  // The same windows through the model as the training code evaluates it.
  const RunFolder folder = RunFolder::open((dir_ / "rope").string());
  const Checkpoint ck = folder.read_checkpoint(false);
  Model model(cli::model_config_from_ini(ck.config_ini, "test"));
  std::copy(ck.params.begin(), ck.params.end(), model.params());
  const data::Dataset ds = data::load_dataset((dir_ / "data").string());
  const auto& tok = ds.test.tokens;
  const int64_t M = (static_cast<int64_t>(tok.size()) - 1) / kT * kT;
  std::vector<int32_t> in(M), tg(M);
  for (int64_t i = 0; i < M; ++i) in[i] = tok[i], tg[i] = tok[i + 1];
  const double want = model.evaluate(in.data(), tg.data(), static_cast<int>(M / kT), static_cast<int>(kT));
  const double got = read("rope", "eval/at-T/nonoverlap/nll")[0];
  EXPECT_NEAR(got, want, 1e-6 + 1e-6 * want);  // float sums in another order
  EXPECT_EQ(read("rope", "eval/at-T/nonoverlap/tokens")[0], static_cast<double>(M));
  EXPECT_NE(r.out.find("\"ppl\""), std::string::npos) << r.out;
  // Per window, what an interval resamples: the windows sum to the totals.
  const auto offsets = read("rope", "eval/at-T/nonoverlap/window_offset/32");
  const auto wnll = read("rope", "eval/at-T/nonoverlap/window_nll/32");
  const auto wtok = read("rope", "eval/at-T/nonoverlap/window_tokens/32");
  ASSERT_EQ(wnll.size(), static_cast<size_t>(M / kT));
  double sum = 0, count = 0;
  for (size_t i = 0; i < wnll.size(); ++i) sum += wnll[i], count += wtok[i];
  EXPECT_EQ(count, static_cast<double>(M));
  EXPECT_NEAR(sum / count, got, 1e-12 + 1e-12 * got);
  EXPECT_EQ(offsets[1] - offsets[0], kT);
  // The provenance names the host and the kernels.
  const h5::File f = h5::File::open_read((dir_ / "rope/run.h5").string());
  EXPECT_FALSE(f.open_group("eval/at-T").attr_string("host_cpu").empty());
  EXPECT_FALSE(f.open_group("eval/at-T").attr_string("kernel_path").empty());
}

TEST_F(EvalCliTest, SlidingProtocolScoresEveryTokenOnce) {
  ASSERT_EQ(eval("--run alibi --lengths 16,64 --protocol both --stride 16 --label s16").rc, 0);
  ASSERT_EQ(eval("--run alibi --lengths 16,64 --protocol sliding --stride 1 --eval.max-tokens 256 --label s1").rc, 0);
  // Stride = L is nonoverlap: the same windows.
  EXPECT_DOUBLE_EQ(read("alibi", "eval/s16/sliding/nll")[0], read("alibi", "eval/s16/nonoverlap/nll")[0]);
  // Every length scores the same tokens, each once: counts by position sum to them.
  const auto tokens = read("alibi", "eval/s16/sliding/tokens");
  EXPECT_EQ(tokens[0], tokens[1]);
  EXPECT_EQ(static_cast<int64_t>(tokens[0]) % 64, 0);
  const auto s1 = read("alibi", "eval/s1/sliding/tokens");
  EXPECT_EQ(s1, (std::vector<double>{256, 256}));
  const auto counts = read("alibi", "eval/s1/sliding/count_by_position/64");
  double sum = 0;
  for (double c : counts) sum += c;
  EXPECT_EQ(sum, 256);
  // Stride 1: the first window scores positions 0..63, every later one only position 63.
  EXPECT_EQ(counts[0], 1);
  EXPECT_EQ(counts[63], 256 - 63);
  // More context per token than nonoverlap (ALiBi at these lengths: at least no worse by much).
  EXPECT_TRUE(std::isfinite(read("alibi", "eval/s1/sliding/ppl")[1]));
}

TEST_F(EvalCliTest, EvalTimeVariants) {
  ASSERT_EQ(eval("--run rope --lengths 32,128 --label plain").rc, 0);
  ASSERT_EQ(eval("--run rope --lengths 32,128 --pe.scaling linear --pe.factor 1 --label pi1").rc, 0);
  EXPECT_EQ(read("rope", "eval/plain/nonoverlap/nll"), read("rope", "eval/pi1/nonoverlap/nll"));
  RunResult r = eval("--run rope --lengths 32,128 --pe.scaling yarn --pe.factor 4");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto labels = RunFolder::open((dir_ / "rope").string()).result_labels("eval");
  EXPECT_NE(std::find(labels.begin(), labels.end(), "rope_b10000_yarn_s4_L32"), labels.end());
  EXPECT_NE(read("rope", "eval/plain/nonoverlap/nll"), read("rope", "eval/rope_b10000_yarn_s4_L32/nonoverlap/nll"));
  // The saved configuration names the eval-time change and no encoding default the run did not use.
  const std::string ini = h5::File::open_read((dir_ / "rope/run.h5").string())
                              .open_group("eval").open_group("rope_b10000_yarn_s4_L32").attr_string("config_ini");
  EXPECT_NE(ini.find("scaling = yarn"), std::string::npos) << ini;
  EXPECT_EQ(ini.find("base = "), std::string::npos) << ini;
  ASSERT_EQ(eval("--run alibi --lengths 32 --pe.alibi-distance-scale 0.5 --label half").rc, 0);
}

TEST_F(EvalCliTest, RunFileKeepsTrainingDataAndOtherLabels) {
  const auto loss_before = read("rope", "train/loss");
  ASSERT_EQ(eval("--run rope --lengths 32 --label keep-a").rc, 0);
  ASSERT_EQ(eval("--run rope --lengths 32,64 --label keep-b").rc, 0);
  ASSERT_EQ(eval("--run rope --lengths 64 --label keep-a").rc, 0);  // replaced
  EXPECT_EQ(read("rope", "train/loss"), loss_before);
  EXPECT_EQ(read("rope", "eval/keep-a/nonoverlap/lengths"), std::vector<double>{64});
  EXPECT_EQ(read("rope", "eval/keep-b/nonoverlap/lengths"), (std::vector<double>{32, 64}));
  h5::File f = h5::File::open_read((dir_ / "rope/run.h5").string());
  EXPECT_EQ(f.attr_string("status"), "done");
  EXPECT_EQ(f.open_group("eval").open_group("keep-a").attr_string("command"), "eval");
  // A resumed training keeps the evaluations.
  ASSERT_EQ(run_pelab("train --resume rope --train.steps 45 --quiet", dir_).rc, 0);
  EXPECT_EQ(read("rope", "eval/keep-b/nonoverlap/lengths"), (std::vector<double>{32, 64}));
  EXPECT_EQ(read("rope", "train/loss").size(), 45u);
  for (const auto& e : fs::directory_iterator(dir_ / "rope"))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST_F(EvalCliTest, BadInputsGiveOneClearLine) {
  expect_clean_failure(eval("--run rope --lengths 0"), "--lengths");
  expect_clean_failure(eval("--run rope --lengths 32,abc"), "--lengths");
  expect_clean_failure(eval("--run rope --lengths -5"), "--lengths");
  expect_clean_failure(eval("--run rope --lengths 32 --protocol sliding --stride 0"), "--stride");
  expect_clean_failure(eval("--run rope --lengths 32,64 --protocol sliding --stride 33"), "--stride");
  expect_clean_failure(eval("--run rope --lengths 32 --protocol sometimes"), "--protocol");
  expect_clean_failure(eval("--lengths 32"), "--run");
  expect_clean_failure(eval("--run nowhere --lengths 32"), "does not exist");
  fs::create_directories(dir_ / "empty-run");
  std::ofstream(dir_ / "empty-run" / "config.ini") << "pe = rope\n";
  expect_clean_failure(eval("--run empty-run --lengths 32"), "no checkpoint");
  expect_clean_failure(eval("--run rope --lengths 32 --text short.txt"), "fewer than the longest length");
  expect_clean_failure(eval("--run rope --lengths 32 --text missing.txt"), "missing.txt");
  expect_clean_failure(eval("--run rope --lengths 32 --eval.repeat -1"), "--eval.repeat");
  expect_clean_failure(eval("--run rope --lengths 32 --pe alibi"), "trained with --pe rope");
  expect_clean_failure(eval("--run rope --lengths 32 --pe.layout interleaved"), "--pe.layout");
  expect_clean_failure(eval("--run alibi --lengths 32 --pe.scaling yarn --pe.factor 4"), "--pe.scaling");
  expect_clean_failure(eval("--run rope --lengths 32 --pe.base 10000,500000"), "one value");
  expect_clean_failure(eval("--run rope --lengths 32 --label a/b"), "--label");
  expect_clean_failure(eval("--run rope --lengths 32 --data.split nope"), "--data.split");
}

TEST_F(EvalCliTest, AnalyzeWritesItsGroupAndRefusesBadInput) {
  RunResult r = run_pelab("analyze --quiet --threads 2 --run rope --length 64 --windows 2 --label a64", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  h5::File f = h5::File::open_read((dir_ / "rope/run.h5").string());
  h5::Group g = f.open_group("analyze").open_group("a64");
  EXPECT_EQ(g.attr_int("length"), 64);
  EXPECT_EQ(g.shape("layer0/mass_by_distance"), (std::vector<uint64_t>{2, 64}));
  EXPECT_EQ(g.read<double>("resolution_at_length").size(), 1u);
  EXPECT_TRUE(g.has("theory_allones_score"));
  EXPECT_TRUE(f.has("train/loss"));
  expect_clean_failure(run_pelab("analyze --run rope --length 1", dir_), "--length");
  expect_clean_failure(run_pelab("analyze --run rope --length 64 --text short.txt", dir_), "fewer than --length");
  expect_clean_failure(run_pelab("analyze --run rope --length 64 --windows 0", dir_), "--windows");
  expect_clean_failure(run_pelab("analyze --run rope", dir_), "--length");
}

TEST_F(EvalCliTest, ProbesWriteAccuracyByLengthAndDepth) {
  const bool can_plot = std::system("/usr/bin/python3 -c 'import matplotlib, h5py' 2> /dev/null") == 0;
  RunResult r = eval("--run rope --probe passkey --lengths 260,300 --depths 0,0.5,1 --trials 2" +
                     std::string(can_plot ? " --plot probe.png" : ""));
  ASSERT_EQ(r.rc, 0) << r.err;
  h5::File f = h5::File::open_read((dir_ / "rope/run.h5").string());
  h5::Group g = f.open_group("eval").open_group("probe-passkey");
  EXPECT_EQ(g.shape("probe_accuracy"), (std::vector<uint64_t>{2, 3}));
  for (double a : g.read<double>("probe_accuracy")) EXPECT_TRUE(a == 0 || a == 0.5 || a == 1) << a;
  EXPECT_EQ(g.read<double>("probe_depths"), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(g.attr_int("trials"), 2);
  // Per trial: hits whose mean per cell is the accuracy.
  EXPECT_EQ(g.shape("probe_hits"), (std::vector<uint64_t>{2, 3, 2}));
  const auto hits = g.read<int64_t>("probe_hits"), bytes = g.read<int64_t>("probe_bytes");
  const auto acc = g.read<double>("probe_accuracy");
  for (size_t c = 0; c < 6; ++c) {
    EXPECT_EQ((hits[2 * c] + hits[2 * c + 1]) / 2.0, acc[c]) << c;
    EXPECT_GT(bytes[2 * c], 0);
  }
  if (can_plot) {
    EXPECT_GT(fs::file_size(dir_ / "probe.png"), 1000u);
  }
  ASSERT_EQ(eval("--run rope --probe mqar --lengths 64 --trials 2").rc, 0);
  expect_clean_failure(eval("--run rope --probe passkey --lengths 300 --text short.txt"), "--text");
  expect_clean_failure(eval("--run rope --probe passkey --lengths 10"), "at least");
  expect_clean_failure(eval("--run rope --probe passkey --lengths 300 --depths 1.5"), "--depths");
  expect_clean_failure(eval("--run rope --probe sometimes --lengths 300"), "sometimes");
  expect_clean_failure(eval("--run rope --probe copy --lengths 64 --trials 0"), "--trials");
  // Copy lengths are payloads: an input of 2n + 1; exact and per-byte accuracy side by side.
  r = eval("--run rope --probe copy --lengths 4,20 --trials 3 --label copy --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = parse_json_lines(r.out, "eval --json");
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[1].at("length"), "20");
  EXPECT_EQ(lines[1].at("depth"), "null");
  EXPECT_TRUE(lines[0].count("exact") && lines[0].count("byte"));
  h5::File cf = h5::File::open_read((dir_ / "rope/run.h5").string());
  h5::Group cg = cf.open_group("eval").open_group("copy");
  EXPECT_EQ(cg.read<int64_t>("probe_bytes"), (std::vector<int64_t>{4, 4, 4, 20, 20, 20}));
  EXPECT_NE(cg.attr_string("lengths_mean").find("payload"), std::string::npos);
}

// --eval.repeat D doubles the text block by block (the positive control of
// claim 2): every block of D tokens is followed by its copy.
TEST_F(EvalCliTest, RepeatedTextForTheLongContextControl) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += static_cast<char>('a' + i % 26);  // 30 bytes
  std::ofstream(dir_ / "rep.txt") << text;
  ASSERT_EQ(eval("--run rope --lengths 8 --text rep.txt --label plain").rc, 0);
  ASSERT_EQ(eval("--run rope --lengths 8 --text rep.txt --eval.repeat 12 --label rep").rc, 0);
  h5::File f = h5::File::open_read((dir_ / "rope/run.h5").string());
  const h5::Group plain = f.open_group("eval").open_group("plain"), rep = f.open_group("eval").open_group("rep");
  EXPECT_NE(rep.attr_string("data_source").find("every 12 tokens repeated once"), std::string::npos);
  // 60 bytes: "abc..l" twice, "mno..x" twice, "yzabcd" twice; cut to a multiple of 8 plus one.
  std::string doubled;
  for (size_t b = 0; b < text.size(); b += 12) doubled += text.substr(b, 12) + text.substr(b, 12);
  EXPECT_EQ(rep.attr_string("data_checksum"),
            data::fnv1a64_hex(data::fnv1a64(reinterpret_cast<const uint8_t*>(doubled.data()), doubled.size())));
  EXPECT_GT(rep.attr_int("scored_tokens"), plain.attr_int("scored_tokens"));
}

// `--examples N` prints what the probe scores, evaluating nothing, and the
// geometry holds on the real dataset: the needle at the stated depth of a
// haystack from the train split, the answer after all of it.
TEST_F(EvalCliTest, ProbeExamplesShowTheGeometry) {
  const auto before = fs::last_write_time(dir_ / "rope/run.h5");
  RunResult r = eval("--run rope --probe passkey --lengths 300,1000 --depths 0,0.3,1 --examples 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(fs::last_write_time(dir_ / "rope/run.h5"), before) << "--examples writes nothing";
  const auto lines = parse_json_lines(r.out, "eval --examples");
  ASSERT_EQ(lines.size(), 12u) << r.out;
  const data::Dataset ds = data::load_dataset((dir_ / "data").string());
  const std::string train(ds.train.tokens.begin(), ds.train.tokens.end());
  for (const auto& e : lines) {
    const std::string text = e.at("text");
    const int64_t L = std::stoll(e.at("length")), needle = std::stoll(e.at("needle_offset"));
    const int64_t H = std::stoll(e.at("haystack_bytes")), answer = std::stoll(e.at("answer_offset"));
    ASSERT_EQ(static_cast<int64_t>(text.size()), L + 1);
    EXPECT_NEAR(static_cast<double>(needle - 1) / static_cast<double>(H), std::stod(e.at("depth_asked")),
                0.5 / static_cast<double>(H) + 1e-9);
    EXPECT_EQ(text.substr(needle, 16), "The pass key is ");
    EXPECT_EQ(text.substr(answer), e.at("answer"));
    EXPECT_EQ(e.at("answer"), e.at("passkey"));
    EXPECT_EQ(answer, L + 1 - static_cast<int64_t>(e.at("answer").size()));
    // The haystack is real text of the train split, on both sides of the needle.
    const std::string prefix = text.substr(0, needle - 1);
    const size_t suffix_at = text.find('\n', needle) + 1;
    const std::string suffix = text.substr(suffix_at, answer - 39 - suffix_at);
    EXPECT_NE((train + train).find(prefix + suffix), std::string::npos) << text;
    EXPECT_GT(answer, static_cast<int64_t>(suffix_at + suffix.size()));
  }
  r = eval("--run rope --probe copy --lengths 5 --examples 1");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto copy = parse_json_lines(r.out, "eval --examples");
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0].at("payload_length"), "5");
  EXPECT_EQ(copy[0].at("text").size(), 12u);
  EXPECT_EQ(copy[0].at("text").substr(0, 5), copy[0].at("answer"));
  EXPECT_EQ(copy[0].at("answer_offset"), "6");
  // Without a run: the dataset alone gives the haystack.
  ASSERT_EQ(eval("--data.dir data --probe mqar --lengths 64 --examples 1").rc, 0);
  expect_clean_failure(eval("--run rope --probe passkey --lengths 300 --examples 0"), "--examples");
  expect_clean_failure(eval("--run rope --lengths 300 --examples 2"), "--probe");
  expect_clean_failure(eval("--run rope --probe passkey --lengths 100 --examples 2"), "haystack");
}

}  // namespace
}  // namespace pelab
