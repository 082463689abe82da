// The task suite as a user meets it: examples printed without a model, a task
// prepared as a dataset, a model trained on it (answers only scored) and
// scored by length with intervals, and each bad input one clear line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "core/hdf5_file.h"
#include "core/json_line.h"
#include "datasets/dataset.h"
#include "experiments/probe.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::expect_clean_failure;
using testing::run_pelab;
using testing::RunResult;

class TaskCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pelab_task_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ok_ = run_pelab("data prepare --task reverse-string --task.max-length 8 --task.docs 6 --data.doc-bytes 4096 "
                    "--out data", dir_).rc == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override { ASSERT_TRUE(ok_) << "could not prepare the task in " << dir_; }
  static RunResult pelab(const std::string& args) { return run_pelab(args, dir_); }

  static inline fs::path dir_;
  static inline bool ok_ = false;
};

TEST_F(TaskCliTest, ExamplesNeedNoModelAndShowWhatIsScored) {
  const RunResult r = pelab("eval --task binary-addition --lengths 5,41 --examples 3");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = parse_json_lines(r.out, "eval --task --examples");
  ASSERT_EQ(lines.size(), 6u);
  for (const auto& e : lines) {
    const std::string in = e.at("input"), answer = e.at("answer");
    EXPECT_EQ(e.at("task"), "binary-addition");
    EXPECT_EQ(static_cast<int64_t>(in.size()), std::stoll(e.at("length")));
    EXPECT_EQ(e.at("text"), in + "=" + answer + "\n");
    EXPECT_NE(in.find('+'), std::string::npos);
  }
  // The same seed gives the same examples; another seed others.
  EXPECT_EQ(pelab("eval --task binary-addition --lengths 5,41 --examples 3").out, r.out);
  EXPECT_NE(pelab("eval --task binary-addition --lengths 5,41 --examples 3 --seed 2").out, r.out);
}

TEST_F(TaskCliTest, PreparedDatasetRecordsTheTask) {
  const data::Dataset ds = data::load_dataset((dir_ / "data").string());
  EXPECT_EQ(ds.task, "reverse-string");
  EXPECT_EQ(ds.task_min_length, 1);
  EXPECT_EQ(ds.task_max_length, 8);
  EXPECT_EQ(ds.corpus, "task:reverse-string");
  const RunResult info = pelab("data info --dir data");
  ASSERT_EQ(info.rc, 0) << info.err;
  EXPECT_NE(info.out.find("task      reverse-string, trained on L in 1..8"), std::string::npos) << info.out;
}

// Trained on reverse-string with L up to 8 for 1500 steps (about 15 s), the
// model reverses in-distribution lengths (measured: every example at L = 2 and
// 4, 98% at 8) while a model that learned nothing gets each bit half the time.
TEST_F(TaskCliTest, TrainedModelIsScoredByLengthWithIntervals) {
  // Trained here, not in the fixture: ctest runs each test in its own process.
  const RunResult train = pelab("train --pe rope --model.d-model 64 --model.n-layers 2 --model.n-heads 4 "
                                "--train.length 64 --train.batch 16 --train.steps 1500 --train.lr 3e-3 "
                                "--train.warmup 50 --train.threads 2 --train.eval-every 500 --data.dir data --quiet "
                                "--out rope");
  ASSERT_EQ(train.rc, 0) << train.err;
  const RunResult r = pelab("eval --quiet --run rope --task reverse-string --lengths 2,4,24 --trials 100 --json");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = parse_json_lines(r.out, "eval --task --json");
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) {
    const double exact = std::stod(l.at("exact")), lo = std::stod(l.at("exact_lo")), hi = std::stod(l.at("exact_hi"));
    EXPECT_LE(lo, exact);
    EXPECT_GE(hi, exact);
    const double byte = std::stod(l.at("byte")), blo = std::stod(l.at("byte_lo")), bhi = std::stod(l.at("byte_hi"));
    EXPECT_TRUE(blo <= byte && byte <= bhi);
  }
  EXPECT_GT(std::stod(lines[0].at("byte")), 0.9) << r.out;
  EXPECT_GT(std::stod(lines[1].at("exact_lo")), 0.5) << r.out;  // chance: 1/16
  h5::File f = h5::File::open_read((dir_ / "rope/run.h5").string());
  h5::Group g = f.open_group("eval").open_group("task-reverse-string");
  EXPECT_EQ(g.attr_string("task"), "reverse-string");
  EXPECT_EQ(g.read<int64_t>("probe_lengths"), (std::vector<int64_t>{2, 4, 24}));
  const std::vector<int64_t> bytes = g.read<int64_t>("probe_bytes");
  ASSERT_EQ(bytes.size(), 300u);
  EXPECT_EQ(bytes[0], 3) << "two answer bits and the newline";
  EXPECT_EQ(bytes[250], 25);
  // The table, too, and the picture of accuracy against length.
  const bool can_plot = std::system("/usr/bin/python3 -c 'import matplotlib, h5py' 2> /dev/null") == 0;
  const RunResult t = pelab("eval --quiet --run rope --task reverse-string --lengths 4 --trials 20" +
                            std::string(can_plot ? " --label t4 --plot t4.png" : ""));
  ASSERT_EQ(t.rc, 0) << t.err;
  EXPECT_NE(t.out.find("95% CI"), std::string::npos) << t.out;
  if (can_plot) {
    EXPECT_GT(fs::file_size(dir_ / "t4.png"), 1000u);
    EXPECT_NE(t.out.find(" L4="), std::string::npos) << t.out;  // the plotted values, printed
  }
}

// --data.task trains on the task's dataset built in memory: the same dataset
// (checksum) that pelab data prepare --task writes, resumable, no folder read.
TEST_F(TaskCliTest, DataTaskTrainsOnTheDatasetPrepareWouldWrite) {
  ASSERT_EQ(pelab("data prepare --task reverse-string --task.max-length 8 --out d8").rc, 0);
  const RunResult train = pelab("train --pe rope --model.d-model 16 --model.n-layers 1 --model.n-heads 2 "
                                "--train.length 32 --train.batch 4 --train.steps 2 --train.checkpoint-every 1 "
                                "--train.threads 1 --quiet --data.dir no-such-folder --data.task reverse-string "
                                "--data.task-max-length 8 --out mem");
  ASSERT_EQ(train.rc, 0) << train.err;
  h5::File f = h5::File::open_read((dir_ / "mem/run.h5").string());
  EXPECT_EQ(f.attr_string("dataset_checksum"), data::load_dataset((dir_ / "d8").string()).checksum());
  EXPECT_EQ(f.attr_string("dataset_corpus"), "task:reverse-string");
  const RunResult resumed = pelab("train --resume mem --train.steps 4 --quiet");
  ASSERT_EQ(resumed.rc, 0) << resumed.err;
  // --task trained is the run's task; its label names it.
  const RunResult ev = pelab("eval --quiet --run mem --task trained --lengths 3 --trials 2");
  ASSERT_EQ(ev.rc, 0) << ev.err;
  h5::File g = h5::File::open_read((dir_ / "mem/run.h5").string());
  EXPECT_EQ(g.open_group("eval").open_group("task-reverse-string").attr_string("task"), "reverse-string");
  // A task run has no corpus to score.
  expect_clean_failure(pelab("eval --run mem --lengths 32"), "no data to score");
  expect_clean_failure(pelab("train --data.task reverse-string --data.task-min-length 9 --data.task-max-length 8 "
                             "--train.length 32 --train.steps 1 --quiet --out bad"),
                       "empty");
  expect_clean_failure(pelab("train --data.dir data --data.task-max-length 8 --train.steps 1 --quiet --out bad"),
                       "without --data.task");
  expect_clean_failure(pelab("train --data.task nope --train.steps 1 --quiet --out bad"), "unknown task");
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

// `data.task` as a sweep axis: every point trains on its own task and one stage
// with `task = trained` scores each on it.
TEST_F(TaskCliTest, TaskIsASweepAxis) {
  std::ofstream(dir_ / "tbase.ini") << "[data]\ndir = no-such-corpus\n";  // not read: --data.task wins
  std::ofstream(dir_ / "tasks.ini") << "[sweep]\nname = tasks\nconfig = tbase.ini\nout = out/tasks\n"
                                       "[axes]\ndata.task = parity, reverse-string\npe = none, rope\n"
                                       "[set]\nmodel.d-model = 16\nmodel.n-layers = 1\nmodel.n-heads = 2\n"
                                       "train.length = 32\ntrain.batch = 4\ntrain.steps = 4\ntrain.eval-every = 2\n"
                                       "train.eval-batches = 1\ntrain.threads = 1\ndata.task-max-length = 8\n"
                                       "[eval.longer]\ntask = trained\nlengths = 4, 12\ntrials = 3\n";
  const RunResult r = pelab("sweep --config tasks.ini --jobs 2");
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  for (const char* task : {"parity", "reverse-string"})
    for (const char* pe : {"none", "rope"}) {
      const std::string point = std::string("data.task-") + task + "_pe-" + pe;
      h5::File f = h5::File::open_read((dir_ / "out/tasks" / point / "run.h5").string());
      EXPECT_EQ(f.attr_string("dataset_corpus"), std::string("task:") + task) << point;
      h5::Group g = f.open_group("eval").open_group("longer");
      EXPECT_EQ(g.attr_string("task"), task) << point;
      EXPECT_EQ(g.read<int64_t>("probe_lengths"), (std::vector<int64_t>{4, 12}));
    }
  EXPECT_NE(r.out.find("probe longer"), std::string::npos) << r.out;
}

// --train.random-positions: a run resumed mid-way draws the positions the
// straight run drew (same final parameters), and what cannot take them is
// refused before a run folder exists.
TEST_F(TaskCliTest, RandomPositionsResumeExactlyAndRefuseTheBiases) {
  const std::string base = "train --pe rope --model.d-model 16 --model.n-layers 1 --model.n-heads 2 --train.length 32 "
                           "--train.batch 4 --train.steps 6 --train.checkpoint-every 2 --train.eval-every 3 "
                           "--train.threads 1 --quiet --data.task reverse-string --data.task-max-length 8 "
                           "--train.random-positions 128";
  ASSERT_EQ(pelab(base + " --out rp-straight").rc, 0);
  ASSERT_EQ(pelab(base + " --train.stop-at 2 --out rp-resumed").rc, 0);
  const RunResult resumed = pelab("train --resume rp-resumed --quiet");
  ASSERT_EQ(resumed.rc, 0) << resumed.err;
  const auto final_loss = [](const fs::path& run) {
    h5::File f = h5::File::open_read((run / "run.h5").string());
    return f.open_group("train").read<double>("loss");
  };
  EXPECT_EQ(final_loss(dir_ / "rp-resumed"), final_loss(dir_ / "rp-straight"));
  ASSERT_EQ(pelab("train --pe rope --model.d-model 16 --model.n-layers 1 --model.n-heads 2 --train.length 32 "
                  "--train.batch 4 --train.steps 6 --train.threads 1 --quiet --data.task reverse-string "
                  "--data.task-max-length 8 --train.eval-every 3 --out rp-off").rc, 0);
  EXPECT_NE(final_loss(dir_ / "rp-off"), final_loss(dir_ / "rp-straight")) << "the positions changed nothing";
  expect_clean_failure(pelab("train --pe alibi --data.task reverse-string --data.task-max-length 8 --train.length 32 "
                             "--train.random-positions 128 --train.steps 1 --quiet --out bad"),
                       "index distance");
  expect_clean_failure(pelab("train --data.task reverse-string --data.task-max-length 8 --train.length 32 "
                             "--train.random-positions 16 --train.steps 1 --quiet --out bad"),
                       "--train.random-positions 16");
  expect_clean_failure(pelab("train --pe learned --model.max-len 64 --data.task reverse-string --data.task-max-length 8 "
                             "--train.length 32 --train.random-positions 128 --train.steps 1 --quiet --out bad"),
                       "learned position table");
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

// The positions a probe reads an example at (--random-positions M): sorted,
// distinct, below M, the same for one seed, example and length, and 0..n-1
// when M = n, the only subset there is.
TEST(ProbePositions, AreASortedSubsetFromTheExamplesStream) {
  ProbeOptions opt;
  opt.suite = data::TaskKind::REVERSE_STRING;
  opt.lengths = {8};
  opt.random_positions = 512;
  const std::vector<double> a = probe_positions(opt, 8, 0, 3, 17);
  ASSERT_EQ(a.size(), 17u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i] >= 0 && a[i] < 512);
    if (i > 0) {
      EXPECT_LT(a[i - 1], a[i]);
    }
  }
  EXPECT_EQ(probe_positions(opt, 8, 0, 3, 17), a);
  EXPECT_NE(probe_positions(opt, 8, 0, 4, 17), a) << "each example draws its own";
  EXPECT_GT(a.back() - a.front(), 100) << "spread over [0, 512), not 0..16";
  opt.random_positions = 17;
  const std::vector<double> id = probe_positions(opt, 8, 0, 3, 17);
  for (size_t i = 0; i < id.size(); ++i) EXPECT_EQ(id[i], static_cast<double>(i));
  opt.random_positions = 10;
  EXPECT_THROW(probe_columns(opt), Error) << "M below the longest example";
}

// pelab eval --task --random-positions: M = the example's length reads it at
// 0..n-1 (the same numbers as without), a larger M is recorded in the result,
// and what cannot take positions is refused with one line.
TEST_F(TaskCliTest, EvalAtRandomPositions) {
  const std::string base = "train --model.d-model 16 --model.n-layers 1 --model.n-heads 2 --train.length 32 "
                           "--train.batch 4 --train.eval-every 20 --train.threads 1 --quiet "
                           "--data.task reverse-string --data.task-max-length 8";
  ASSERT_EQ(pelab(base + " --pe rope --train.steps 20 --train.random-positions 128 --out rp-eval").rc, 0);
  const std::string eval = "eval --run rp-eval --task trained --lengths 4,8 --trials 20 --json --threads 1 --quiet";
  const RunResult plain = pelab(eval + " --label plain");
  const RunResult same = pelab(eval + " --label same --random-positions 17");
  ASSERT_EQ(plain.rc, 0) << plain.err;
  ASSERT_EQ(same.rc, 0) << same.err;
  const auto numbers = [](const std::string& out) {
    std::vector<std::string> v;
    for (const auto& j : parse_json_lines(out, "eval --json")) v.push_back(j.at("exact") + " " + j.at("byte"));
    return v;
  };
  // L = 4 examples take 9 of the 17 positions: a subset of [0, 17), so only L = 8 is the identity.
  EXPECT_EQ(numbers(plain.out)[1], numbers(same.out)[1]);
  const RunResult spread = pelab("eval --run rp-eval --task trained --lengths 4,8 --trials 20 --threads 1 --quiet "
                                 "--random-positions 128");
  ASSERT_EQ(spread.rc, 0) << spread.err;
  EXPECT_NE(spread.out.find("positions random in [0, 128)"), std::string::npos) << spread.out;
  {
    h5::File f = h5::File::open_read((dir_ / "rp-eval" / "run.h5").string());
    const h5::Group g = f.open_group("eval/task-reverse-string-random-positions-128");
    EXPECT_EQ(g.attr_int("random_positions"), 128);
    EXPECT_EQ(f.open_group("eval/plain").attr_int("random_positions"), 0);
  }
  expect_clean_failure(pelab("eval --run rp-eval --task trained --lengths 8 --random-positions 16 --quiet"),
                       "--random-positions 16");
  expect_clean_failure(pelab("eval --run rp-eval --lengths 32 --random-positions 64 --text /dev/null --quiet"),
                       "--random-positions");
  ASSERT_EQ(pelab(base + " --pe alibi --train.steps 1 --out alibi-eval").rc, 0);
  expect_clean_failure(pelab("eval --run alibi-eval --task trained --lengths 8 --random-positions 64 --quiet"),
                       "index distance");
}

TEST_F(TaskCliTest, BadInputGetsOneClearLine) {
  expect_clean_failure(pelab("eval --task nope --lengths 5 --examples 1"), "unknown task");
  expect_clean_failure(pelab("eval --task binary-addition --lengths 2 --examples 1"), "L >= 3");
  expect_clean_failure(pelab("eval --task modular-arithmetic --lengths 8 --examples 1"), "odd");
  expect_clean_failure(pelab("eval --task parity --probe copy --lengths 5 --examples 1"), "--task and --probe");
  expect_clean_failure(pelab("data prepare --task duplicate-string --task.max-length 5 --task.min-length 6 --out x"),
                       "empty");
  expect_clean_failure(pelab("data prepare --task parity --corpus kjv --out x"), "--task and --corpus");
  // A row of 65 bytes cannot hold reverse-string examples of length 40 (82 bytes).
  ASSERT_EQ(pelab("data prepare --task reverse-string --task.docs 3 --data.doc-bytes 4096 --out data40").rc, 0);
  expect_clean_failure(pelab("train --data.dir data40 --train.length 64 --train.steps 1 --quiet --out r40"),
                       "--train.length to 81");
  EXPECT_FALSE(fs::exists(dir_ / "r40")) << "no run folder is left behind";
  expect_clean_failure(pelab("train --data.dir data --data.synthetic copy --data.synthetic-rate 0.5 --train.length 64 "
                             "--train.steps 1 --quiet --out r2"),
                       "alone");
}

}  // namespace
}  // namespace pelab
