// The retrieval probe on a model that has learned its task: a two-layer RoPE
// model trained on the copy task alone (one payload of 31 bytes per row of
// T = 64, 600 steps, about 10 s on 2 cores) copies payloads of 31 bytes
// exactly, while the same model after 10 steps copies nothing. (With payloads
// drawn from 1..31, as claim nope-length-generalization trains, 2000 steps of
// this model do not learn the task: docs/claims.md.) A probe that always scored 0 (or 1) would pass the unit tests of
// its plumbing (test_eval_cli.cc) and fail here.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "core/hdf5_file.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;

const std::string kCopyTraining =
    "train --pe rope --model.d-model 64 --model.n-layers 2 --model.n-heads 4 --train.length 64 --train.batch 16 "
    "--train.lr 3e-3 --train.warmup 50 --train.threads 2 --data.dir data --data.synthetic copy "
    "--data.synthetic-rate 1 --data.copy-min 31 --data.copy-max 31 --quiet";

std::vector<double> copy_accuracy(const fs::path& dir, const std::string& run) {
  RunResult r = run_pelab("eval --run " + run + " --probe copy --lengths 31,48 --trials 50 --label copy --quiet "
                          "--threads 2", dir);
  EXPECT_EQ(r.rc, 0) << r.err;
  if (r.rc != 0) return {};
  const h5::File f = h5::File::open_read((dir / run / "run.h5").string());
  return f.open_group("eval").open_group("copy").read<double>("probe_accuracy");  // (lengths, depths)
}

TEST(ProbeOnATrainedModel, CopiesAtTheTrainingLengthOnlyOnceLearned) {
  const fs::path dir = fs::temp_directory_path() / ("pelab_probe_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // The copy task brings its own random bytes; the corpus only has to exist.
  if (run_pelab("data prepare --corpus kjv --out data", dir).rc != 0)
    GTEST_SKIP() << "KJV not available (apt-get install bible-kjv-text bible-kjv)";
  ASSERT_EQ(run_pelab(kCopyTraining + " --train.steps 600 --out learned", dir).rc, 0);
  ASSERT_EQ(run_pelab(kCopyTraining + " --train.steps 10 --out barely", dir).rc, 0);

  const std::vector<double> learned = copy_accuracy(dir, "learned"), barely = copy_accuracy(dir, "barely");
  ASSERT_EQ(learned.size(), 2u);  // copy has one depth
  ASSERT_EQ(barely.size(), 2u);
  // 0.9 leaves room for another seed's luck, not for a broken probe.
  EXPECT_GE(learned[0], 0.9) << "the trained model should copy a payload it was trained on";
  EXPECT_EQ(barely[0], 0.0) << "10 steps cannot have learned to copy: the probe is not scoring the answer";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pelab
