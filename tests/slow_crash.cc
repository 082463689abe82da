// Crash safety under kill -9 (docs/design.md "Failure model"): `pelab train`
// on tiny.ini and `pelab data prepare` on KJV are killed with SIGKILL at exact
// points (failpoints, core/files.h: inside a step, during a checkpoint write,
// right before and after a rename, mid-dataset write) and at seeded random
// times. After each kill the folder must be readable (run.h5 opens in h5py,
// the checkpoint loads), and a resume must finish with the parameters and
// every logged loss bit-identical to an uninterrupted run, leaving no
// temporary behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "cli_runner.h"
#include "core/hdf5_file.h"
#include "datasets/dataset.h"
#include "experiments/run_folder.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;

// tiny.ini shortened to 60 steps with frequent logs and checkpoints, so every
// kind of write happens several times in a couple of seconds.
const std::string kTrain =
    "train --config " PELAB_SOURCE_DIR "/experiments/configs/tiny.ini --data.dir data --train.steps 60 "
    "--train.checkpoint-every 20 --train.log-every 5 --train.eval-every 15 --train.eval-batches 2 --train.threads 2 --quiet";

class CrashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("pelab_crash_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    RunResult r = run_pelab("data prepare --corpus kjv --out data", root_);
    if (r.rc != 0) {
      prepared_ = false;
      return;
    }
    prepared_ = true;
    r = run_pelab(kTrain + " --out reference", root_);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  void SetUp() override {
    if (!prepared_) GTEST_SKIP() << "KJV not available (apt-get install bible-kjv-text bible-kjv)";
  }

  static std::string env_kill(const std::string& point) { return "PELAB_FAILPOINT='" + point + "' "; }

  // The folder as a killed run leaves it: run.h5 (if any) opens in h5py, the
  // checkpoint (if any) loads.
  void expect_readable(const std::string& run) {
    const fs::path dir = root_ / run;
    if (fs::exists(dir / kRunFile)) {
      // Every dataset read whole.
      const std::string cmd = "/usr/bin/python3 -c \"import h5py,sys; f=h5py.File(sys.argv[1],'r'); "
                              "f.visititems(lambda n,o: o[...] if isinstance(o,h5py.Dataset) else None)\" '" +
                              (dir / kRunFile).string() + "' 2>&1";
      if (std::system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") == 0) {
        EXPECT_EQ(std::system(cmd.c_str()), 0) << "h5py cannot read " << run << "/run.h5";
      }
      EXPECT_NO_THROW(RunFolder::open(dir.string()).read_train_logs()) << run;
    }
    if (fs::exists(dir / kCheckpointFile)) {
      EXPECT_NO_THROW(RunFolder::open(dir.string()).read_checkpoint()) << run;
    }
  }

  // Resumes to the end and compares with the uninterrupted reference.
  void resume_and_compare(const std::string& run) {
    RunResult r = run_pelab("train --resume " + run + " --quiet", root_);
    ASSERT_EQ(r.rc, 0) << r.err;
    for (const auto& e : fs::directory_iterator(root_ / run))
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
    const Checkpoint want = RunFolder::open((root_ / "reference").string()).read_checkpoint();
    const Checkpoint got = RunFolder::open((root_ / run).string()).read_checkpoint();
    EXPECT_EQ(got.step, want.step);
    ASSERT_EQ(got.params.size(), want.params.size());
    EXPECT_EQ(0, std::memcmp(got.params.data(), want.params.data(), want.params.size() * sizeof(float)))
        << run << ": final parameters differ from the uninterrupted run";
    EXPECT_EQ(0, std::memcmp(got.m.data(), want.m.data(), want.m.size() * sizeof(float))) << run;
    const TrainLogs a = RunFolder::open((root_ / "reference").string()).read_train_logs();
    const TrainLogs b = RunFolder::open((root_ / run).string()).read_train_logs();
    EXPECT_EQ(a.step, b.step) << run;
    EXPECT_EQ(a.loss, b.loss) << run << ": logged training losses differ (bit for bit)";
    EXPECT_EQ(a.grad_norm, b.grad_norm) << run;
    EXPECT_EQ(a.lr, b.lr) << run;
    EXPECT_EQ(a.val_step, b.val_step) << run;
    EXPECT_EQ(a.val_loss, b.val_loss) << run << ": logged validation losses differ";
  }

  static fs::path root_;
  static bool prepared_;
};

fs::path CrashTest::root_;
bool CrashTest::prepared_ = false;

TEST_F(CrashTest, TrainKilledAtExactPointsResumesBitIdentical) {
  // (failpoint, what it interrupts)
  const std::pair<const char*, const char*> points[] = {
      {"train:step@27", "inside a step (forward and backward done, no update)"},
      {"h5write:checkpoint.h5:/params@2", "a checkpoint write, after the parameters"},
      {"commit:checkpoint.h5:before_flush@3", "a checkpoint write, before its flush"},
      {"commit:checkpoint.h5:before_rename@2", "a sealed checkpoint not yet renamed"},
      {"commit:checkpoint.h5:after_rename@3", "right after a checkpoint rename"},
      {"commit:run.h5:before_rename@4", "a run.h5 rewrite"},
      {"commit:run.h5:after_rename@6", "right after a run.h5 rename"},
      {"text:log.txt:before_rename@5", "a log.txt rewrite"},
      {"commit:checkpoint.h5:before_rename@1", "the first checkpoint (step 0)"},
      {"commit:run.h5:before_rename@1", "the first run.h5"},
  };
  int i = 0;
  for (const auto& [point, what] : points) {
    SCOPED_TRACE(std::string(point) + ": " + what);
    const std::string run = "kill" + std::to_string(i++);
    RunResult r = run_pelab(env_kill(point) + "exec " PELAB_BINARY " " + kTrain + " --out " + run, root_, false);
    ASSERT_EQ(r.rc, 128 + SIGKILL) << "the failpoint was not reached: " << r.err;
    expect_readable(run);
    resume_and_compare(run);
  }
}

TEST_F(CrashTest, TrainKilledTwiceThenResumed) {
  RunResult r = run_pelab(env_kill("commit:checkpoint.h5:before_flush@2") + "exec " PELAB_BINARY " " + kTrain +
                              " --out twice",
                          root_, false);
  ASSERT_EQ(r.rc, 128 + SIGKILL);
  r = run_pelab(env_kill("train:step@15") + "exec " PELAB_BINARY " train --resume twice --quiet", root_, false);
  ASSERT_EQ(r.rc, 128 + SIGKILL);
  expect_readable("twice");
  resume_and_compare("twice");
}

TEST_F(CrashTest, TrainKilledAtRandomTimes) {
  std::mt19937 rng(20261201);
  for (int i = 0; i < 3; ++i) {
    const std::string run = "random" + std::to_string(i);
    const int delay_ms = std::uniform_int_distribution<int>(30, 1500)(rng);
    SCOPED_TRACE(run + " killed after " + std::to_string(delay_ms) + " ms");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      fs::current_path(root_);
      execl("/bin/sh", "sh", "-c", ("exec " PELAB_BINARY " " + kTrain + " --out " + run + " > /dev/null 2>&1").c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!fs::exists(root_ / run)) continue;  // killed before it made the folder
    expect_readable(run);
    resume_and_compare(run);
  }
}

TEST_F(CrashTest, DataPrepareKilledKeepsTheOldDataset) {
  const std::string old_sum = data::load_dataset((root_ / "data").string()).checksum();
  RunResult r = run_pelab("data prepare --corpus kjv --out data2", root_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string before = data::load_dataset((root_ / "data2").string()).checksum();
  EXPECT_EQ(before, old_sum);
  for (const char* point : {"h5write:dataset.h5:/train/tokens", "commit:dataset.h5:before_flush",
                            "commit:dataset.h5:before_rename"}) {
    SCOPED_TRACE(point);
    // Another split seed: a different dataset would replace the old one.
    r = run_pelab(env_kill(point) + "exec " PELAB_BINARY " data prepare --corpus kjv --out data2 --data.split-seed 5",
                  root_, false);
    ASSERT_EQ(r.rc, 128 + SIGKILL) << r.err;
    EXPECT_EQ(data::load_dataset((root_ / "data2").string()).checksum(), before) << "the old dataset changed";
  }
  r = run_pelab("data prepare --corpus kjv --out data2 --data.split-seed 5", root_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(data::load_dataset((root_ / "data2").string()).checksum(), before);
  for (const auto& e : fs::directory_iterator(root_ / "data2"))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
  // And a first prepare killed mid-write leaves no dataset.h5 at all; a rerun works.
  r = run_pelab(env_kill("commit:dataset.h5:before_flush") + "exec " PELAB_BINARY " data prepare --corpus kjv --out data3",
                root_, false);
  ASSERT_EQ(r.rc, 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(root_ / "data3" / "dataset.h5"));
  r = run_pelab("data prepare --corpus kjv --out data3", root_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(data::load_dataset((root_ / "data3").string()).checksum(), old_sum);
}

}  // namespace
}  // namespace pelab
