// `pelab train` as a user meets it, on a tiny synthetic text folder prepared
// with `pelab data prepare --corpus <folder>` (no KJV needed): the run folder's
// files, loss falling, exact resume, determinism, divergence handling, fine-tunes
// from a trained run (--init-from) and each bad input giving one clear line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "core/files.h"
#include "core/hdf5_file.h"
#include "experiments/run_folder.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;
using testing::expect_clean_failure;

// d_model 32, 1 layer, T 32: each step takes about a millisecond.
const std::string kModel =
    "--pe rope --model.d-model 32 --model.n-layers 1 --model.n-heads 2 --train.length 32 --train.batch 8 "
    "--train.lr 1e-2 --train.min-lr 1e-3 --train.warmup 5 --train.eval-every 10 --train.eval-batches 2 "
    "--train.checkpoint-every 10 --train.log-every 10 --train.threads 2 --train.seed 7 --quiet ";

class TrainCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pelab_train_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // 12 files of repetitive sentences: a byte-level model learns them fast.
  void write_texts(int variant) {
    const char* words[] = {"the", "lord", "said", "unto", "moses", "and", "his", "people", "went", "forth"};
    for (int i = 0; i < 12; ++i) {
      std::string t;
      for (int j = 0; j < 60; ++j) {
        for (int k = 0; k < 6; ++k) t += std::string(words[(i + j * 3 + k * 7 + variant) % 10]) + (k < 5 ? " " : "");
        t += ".\n";
      }
      std::ofstream(dir_ / ("texts" + std::to_string(variant)) / ("f" + std::to_string(100 + i) + ".txt"))
          << t;
    }
  }
  void make_corpus(const std::string& name = "prepared", int variant = 0) {
    fs::create_directories(dir_ / ("texts" + std::to_string(variant)));
    write_texts(variant);
    RunResult r = run_pelab("data prepare --corpus texts" + std::to_string(variant) + " --out " + name +
                                " --data.val-fraction 0.1 --data.test-fraction 0.1",
                            dir_);
    ASSERT_EQ(r.rc, 0) << r.err;
  }

  RunResult train(const std::string& args) { return run_pelab("train " + kModel + args, dir_); }

  std::vector<double> read(const std::string& run, const std::string& name) {
    h5::File f = h5::File::open_read((dir_ / run / "run.h5").string());
    return f.read<double>(name);
  }

  fs::path dir_;
};

TEST_F(TrainCliTest, RunFolderAndLossFalls) {
  make_corpus();
  RunResult r = train("--train.steps 60 --data.dir prepared --out runs/a");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("step 60/60"), std::string::npos) << r.out;
  for (const char* f : {"config.ini", "run.h5", "checkpoint.h5", "log.txt"}) EXPECT_TRUE(fs::exists(dir_ / "runs/a" / f)) << f;
  for (const auto& e : fs::directory_iterator(dir_ / "runs/a"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  const auto step = read("runs/a", "train/step"), loss = read("runs/a", "train/loss");
  ASSERT_EQ(step.size(), 60u);
  EXPECT_EQ(step.front(), 1);
  EXPECT_EQ(step.back(), 60);
  EXPECT_EQ(read("runs/a", "train/lr").size(), 60u);
  EXPECT_EQ(read("runs/a", "train/grad_norm").size(), 60u);
  EXPECT_EQ(read("runs/a", "train/tokens_per_s").size(), 60u);
  const auto vstep = read("runs/a", "val/step"), vloss = read("runs/a", "val/loss");
  ASSERT_EQ(vstep, (std::vector<double>{0, 10, 20, 30, 40, 50, 60}));
  EXPECT_NEAR(vloss.front(), std::log(256.0), 0.3);  // uniform at init
  EXPECT_LT(vloss.back(), vloss.front() - 2.0) << "validation loss did not fall";
  EXPECT_LT(loss.back(), loss.front() - 2.0) << "training loss did not fall";

  h5::File f = h5::File::open_read((dir_ / "runs/a/run.h5").string());
  EXPECT_EQ(f.attr_string("command"), "train");
  EXPECT_EQ(f.attr_string("status"), "done");
  EXPECT_EQ(f.attr_string("pe"), "rope_b10000");
  EXPECT_GT(f.attr_int("parameters"), 0);
  EXPECT_EQ(f.attr_string("dataset_checksum").rfind("fnv1a64:", 0), 0u);
  // config.ini is the resolved configuration and reads back with --config.
  const std::string ini = testing::slurp(dir_ / "runs/a/config.ini");
  EXPECT_NE(ini.find("d-model = 32"), std::string::npos) << ini;
  EXPECT_NE(testing::slurp(dir_ / "runs/a/log.txt").find("val step 60"), std::string::npos);
}

TEST_F(TrainCliTest, ExactResumeAndDeterminism) {
  make_corpus();
  ASSERT_EQ(train("--train.steps 40 --data.dir prepared --out straight").rc, 0);
  ASSERT_EQ(train("--train.steps 40 --data.dir prepared --out again").rc, 0);
  RunResult r = train("--train.steps 40 --train.stop-at 20 --data.dir prepared --out split");
  ASSERT_EQ(r.rc, 0) << r.err;
  {
    h5::File c = h5::File::open_read((dir_ / "split/checkpoint.h5").string());
    EXPECT_EQ(c.attr_int("step"), 20);
    EXPECT_EQ(c.read<float>("params").size(), static_cast<size_t>(c.attr_int("parameters")));
    EXPECT_EQ(read("split", "train/loss").size(), 20u);
  }
  r = run_pelab("train --resume split --quiet", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("step 40/40"), std::string::npos) << r.out;

  for (const char* name : {"train/step", "train/loss", "train/lr", "train/grad_norm", "val/step", "val/loss"}) {
    SCOPED_TRACE(name);
    const auto a = read("straight", name), b = read("again", name), c = read("split", name);
    ASSERT_EQ(a.size(), c.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(double)), 0) << "same seed differs at " << i;
      EXPECT_EQ(std::memcmp(&a[i], &c[i], sizeof(double)), 0) << "resumed run differs at " << i;
    }
  }
  // The final parameters agree bit for bit too.
  h5::File a = h5::File::open_read((dir_ / "straight/checkpoint.h5").string());
  h5::File c = h5::File::open_read((dir_ / "split/checkpoint.h5").string());
  EXPECT_EQ(a.read<float>("params"), c.read<float>("params"));
  EXPECT_EQ(a.read<float>("adam_v"), c.read<float>("adam_v"));
  EXPECT_EQ(a.attr_string("state_checksum"), c.attr_string("state_checksum"));

  // A resume of a finished run with more steps continues; the old log is kept.
  r = run_pelab("train --resume split --train.steps 50 --quiet", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read("split", "train/loss").size(), 50u);
  h5::File f = h5::File::open_read((dir_ / "split/run.h5").string());
  EXPECT_EQ(f.attr_doubles("resumed_at"), (std::vector<double>{20, 40}));
}

TEST_F(TrainCliTest, ResumeOfFinishedRunKeepsCheckpoint) {
  make_corpus();
  ASSERT_EQ(train("--train.steps 20 --data.dir prepared --out r").rc, 0);
  const std::string before = testing::slurp(dir_ / "r/checkpoint.h5");
  RunResult r = run_pelab("train --resume r --quiet", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(testing::slurp(dir_ / "r/checkpoint.h5"), before);
  EXPECT_EQ(read("r", "train/loss").size(), 20u);

  // A folder another process trains (its lock held, here by this test) is refused, not trained twice.
  {
    const FileLock other((dir_ / "r" / kTrainLockFile).string(), /*wait=*/false);
    ASSERT_TRUE(other.held());
    EXPECT_FALSE(FileLock((dir_ / "r" / kTrainLockFile).string(), /*wait=*/false).held());
    testing::expect_clean_failure(run_pelab("train --resume r --train.steps 30 --quiet", dir_),
                                  "is being trained by another process");
  }
  ASSERT_EQ(run_pelab("train --resume r --train.steps 30 --quiet", dir_).rc, 0);  // the lock died with its holder
  EXPECT_EQ(read("r", "train/loss").size(), 30u);
}

TEST_F(TrainCliTest, BadInputsGiveOneClearLine) {
  make_corpus();
  fs::create_directories(dir_ / "empty");
  expect_clean_failure(train("--data.dir nowhere --out r1"), "does not exist");
  expect_clean_failure(train("--data.dir empty --out r2"), "no dataset.h5");
  EXPECT_FALSE(fs::exists(dir_ / "r1"));
  EXPECT_FALSE(fs::exists(dir_ / "r2"));

  ASSERT_EQ(train("--train.steps 20 --train.stop-at 10 --data.dir prepared --out run").rc, 0);
  // Never clobber a previous run.
  expect_clean_failure(train("--train.steps 20 --data.dir prepared --out run"), "--resume run");
  // A resume whose configuration conflicts names the key.
  expect_clean_failure(run_pelab("train --resume run --model.d-model 64 --quiet", dir_), "model.d-model");
  expect_clean_failure(run_pelab("train --resume run --train.lr 0.5 --quiet", dir_), "train.lr");
  // Another dataset than the checkpoint's.
  make_corpus("other", 1);
  expect_clean_failure(run_pelab("train --resume run --data.dir other --quiet", dir_), "checksum");
  expect_clean_failure(run_pelab("train --resume nowhere --quiet", dir_), "does not exist");

  // Truncated, then garbage checkpoints.
  const fs::path ck = dir_ / "run/checkpoint.h5";
  const std::string good = testing::slurp(ck);
  std::ofstream(ck, std::ios::binary | std::ios::trunc) << good.substr(0, good.size() / 2);
  expect_clean_failure(run_pelab("train --resume run --quiet", dir_), "(truncated)");
  std::ofstream(ck, std::ios::binary | std::ios::trunc) << std::string(4096, 'x');
  expect_clean_failure(run_pelab("train --resume run --quiet", dir_), "no pelab seal");
  // Flipped bytes inside the parameters: the file's seal catches them.
  std::string flipped = good;
  for (size_t i = flipped.size() / 2; i < flipped.size() / 2 + 64; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  std::ofstream(ck, std::ios::binary | std::ios::trunc) << flipped;
  RunResult r = run_pelab("train --resume run --quiet", dir_);
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("CRC-32"), std::string::npos) << r.err;
}

TEST_F(TrainCliTest, DivergenceStopsAndKeepsLastGoodCheckpoint) {
  make_corpus();
  RunResult r = run_pelab("train --pe rope --model.d-model 32 --model.n-layers 1 --model.n-heads 2 --train.length 32 "
                          "--train.batch 8 --train.steps 200 --train.lr 1e6 --train.min-lr 1e6 --train.warmup 0 "
                          "--train.grad-clip 0 --train.checkpoint-every 1 --train.eval-every 1000 --train.threads 2 "
                          "--quiet --data.dir prepared --out nan",
                          dir_);
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("training diverged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("last good checkpoint"), std::string::npos) << r.err;
  h5::File c = h5::File::open_read((dir_ / "nan/checkpoint.h5").string());
  for (float x : c.read<float>("params")) ASSERT_TRUE(std::isfinite(x));
  h5::File f = h5::File::open_read((dir_ / "nan/run.h5").string());
  EXPECT_EQ(f.attr_string("status"), "diverged");
  EXPECT_LE(c.attr_int("step"), f.attr_int("step"));
}

// --init-from: the source's parameters bit for bit at step 0 (a run killed
// inside its first step, before any update), so the same validation and
// evaluation losses; the provenance in config.ini, run.h5 and checkpoint.h5.
TEST_F(TrainCliTest, InitFromStartsWithTheSourceParameters) {
  make_corpus();
  ASSERT_EQ(train("--train.steps 30 --data.dir prepared --out src").rc, 0);
  RunResult r = run_pelab("PELAB_FAILPOINT=train:step '" PELAB_BINARY "' train --init-from src --train.seed 9 --quiet --out ft",
                          dir_, /*with_binary=*/false);
  ASSERT_EQ(r.rc, 128 + SIGKILL) << r.err;
  h5::File s = h5::File::open_read((dir_ / "src/checkpoint.h5").string());
  h5::File c = h5::File::open_read((dir_ / "ft/checkpoint.h5").string());
  EXPECT_EQ(c.attr_int("step"), 0);
  EXPECT_EQ(c.attr_int("optimizer_step"), 0);
  const auto a = s.read<float>("params"), b = c.read<float>("params");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "parameters differ from the source's";
  for (float m : c.read<float>("adam_m")) ASSERT_EQ(m, 0.0f) << "AdamW moments must start fresh";
  EXPECT_EQ(c.attr_string("init_from"), "src");
  EXPECT_EQ(c.attr_int("init_from_step"), 30);
  // Same T, batch and threads: the step-0 validation loss is the source's last, to the bit.
  const double vs = read("src", "val/loss").back(), vf = read("ft", "val/loss").front();
  EXPECT_EQ(std::memcmp(&vs, &vf, sizeof(double)), 0) << vs << " vs " << vf;
  EXPECT_EQ(read("ft", "val/step"), std::vector<double>{0});
  {
    h5::File f = h5::File::open_read((dir_ / "ft/run.h5").string());
    EXPECT_EQ(f.attr_string("init_from"), "src");
    EXPECT_EQ(f.attr_int("init_from_step"), 30);
    EXPECT_EQ(f.attr_int("seed"), 9);
    h5::File g = h5::File::open_read((dir_ / "src/run.h5").string());
    EXPECT_FALSE(g.has_attr("init_from")) << "a run from scratch has no init_from";
  }
  const std::string ini = testing::slurp(dir_ / "ft/config.ini");
  EXPECT_NE(ini.find("init-from = src"), std::string::npos) << ini;
  EXPECT_NE(ini.find("dir = prepared"), std::string::npos) << "data.dir inherited: " << ini;
  EXPECT_NE(testing::slurp(dir_ / "ft/log.txt").find("parameters from src (its checkpoint at step 30)"), std::string::npos);
  // pelab eval scores both the same.
  for (const char* run : {"src", "ft"})
    ASSERT_EQ(run_pelab(std::string("eval --quiet --threads 2 --lengths 32,64 --label e --run ") + run, dir_).rc, 0);
  EXPECT_EQ(read("src", "eval/e/nonoverlap/nll"), read("ft", "eval/e/nonoverlap/nll"));
}

// A Position Interpolation fine-tune at twice the length starts near the
// source's loss, far below a fresh model's ln 256.
TEST_F(TrainCliTest, InitFromFineTunesAtALongerLength) {
  make_corpus();
  ASSERT_EQ(train("--train.steps 40 --data.dir prepared --out src").rc, 0);
  const double src_loss = read("src", "train/loss").back();
  RunResult r = run_pelab("train --init-from src --pe.scaling linear --pe.factor 2 --train.length 64 --train.steps 10 "
                          "--train.lr 2e-3 --train.min-lr 2e-4 --train.warmup 2 --quiet --out ft",
                          dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  // The same model from scratch (src's configuration, at T 64).
  r = run_pelab("train --config src/config.ini --train.length 64 --train.steps 1 --quiet --out fresh", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const double ft_first = read("ft", "train/loss").front(), fresh_first = read("fresh", "train/loss").front();
  EXPECT_NEAR(fresh_first, std::log(256.0), 0.3);
  EXPECT_LT(ft_first, std::log(256.0) - 2.0) << "the fine-tune did not start from the trained parameters";
  EXPECT_LT(ft_first, src_loss + 1.0) << "source's final loss " << src_loss;
  h5::File f = h5::File::open_read((dir_ / "ft/run.h5").string());
  EXPECT_EQ(f.attr_string("pe"), "rope_b10000_linear_s2");
  EXPECT_EQ(f.attr_int("train_len"), 64);
  EXPECT_EQ(f.attr_int("steps"), 10);
  // The scaling's original length defaults to the source's --train.length, as in pelab eval.
  EXPECT_NE(testing::slurp(dir_ / "ft/config.ini").find("original-length = 32"), std::string::npos);
}

TEST_F(TrainCliTest, InitFromRefusesAnotherModel) {
  make_corpus();
  ASSERT_EQ(train("--train.steps 10 --data.dir prepared --out src").rc, 0);
  auto init = [&](const std::string& args) { return run_pelab("train --init-from src --quiet " + args, dir_); };
  expect_clean_failure(init("--model.n-heads 4 --out x"), "--model.n-heads 4 differs from the --init-from run's model.n-heads = 2");
  expect_clean_failure(init("--pe alibi --out x"), "--pe alibi differs from the --init-from run's pe = rope");
  expect_clean_failure(init("--model.d-model 64 --out x"), "model.d-model");
  expect_clean_failure(init("--pe.layout interleaved --out x"), "pe.layout");  // pairs the trained Wq/Wk dims
  std::ofstream(dir_ / "other.ini") << "[model]\nnorm = rmsnorm\n";
  expect_clean_failure(init("--config other.ini --out x"), "model.norm");
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  // With --resume; without --out; a folder that is not a trained run.
  expect_clean_failure(run_pelab("train --resume src --init-from src --quiet", dir_), "--init-from and --resume both given");
  expect_clean_failure(init(""), "missing --out");
  expect_clean_failure(run_pelab("train --init-from nowhere --quiet --out x", dir_), "does not exist");
  fs::create_directories(dir_ / "empty");
  expect_clean_failure(run_pelab("train --init-from empty --quiet --out x", dir_), "no checkpoint");
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

// A fine-tune resumes like any run: from its own checkpoint, bit for bit
// (re-reading the source at step 5 would change every later loss); killed
// before its first checkpoint, it starts again from the source's parameters.
TEST_F(TrainCliTest, InitFromResumes) {
  make_corpus();
  ASSERT_EQ(train("--train.steps 20 --data.dir prepared --out src").rc, 0);
  const std::string ft = "train --init-from src --pe.scaling linear --pe.factor 2 --train.length 64 --train.steps 10 "
                         "--train.eval-every 5 --quiet ";
  ASSERT_EQ(run_pelab(ft + "--out straight", dir_).rc, 0);
  ASSERT_EQ(run_pelab(ft + "--train.stop-at 5 --out split", dir_).rc, 0);
  RunResult r = run_pelab("train --resume split --quiet", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_pelab("PELAB_FAILPOINT=text:config.ini:after_rename '" PELAB_BINARY "' " + ft + "--out early", dir_,
                /*with_binary=*/false);
  ASSERT_EQ(r.rc, 128 + SIGKILL) << r.err;
  ASSERT_FALSE(fs::exists(dir_ / "early/checkpoint.h5"));
  r = run_pelab("train --resume early --quiet", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* run : {"split", "early"}) {
    SCOPED_TRACE(run);
    for (const char* name : {"train/loss", "val/loss"}) {
      const auto a = read("straight", name), b = read(run, name);
      ASSERT_EQ(a.size(), b.size()) << name;
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0) << name;
    }
    h5::File f = h5::File::open_read((dir_ / run / "run.h5").string());
    EXPECT_EQ(f.attr_string("init_from"), "src");
    EXPECT_EQ(f.attr_int("init_from_step"), 20);
    EXPECT_NE(testing::slurp(dir_ / run / "config.ini").find("init-from = src"), std::string::npos);
  }
  h5::File a = h5::File::open_read((dir_ / "straight/checkpoint.h5").string());
  h5::File b = h5::File::open_read((dir_ / "split/checkpoint.h5").string());
  EXPECT_EQ(a.attr_string("state_checksum"), b.attr_string("state_checksum"));
}

}  // namespace
}  // namespace pelab
