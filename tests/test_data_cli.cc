// `pelab data prepare|info` as a user meets it: a folder of text files becomes
// DIR/dataset.h5 that load_dataset reads back; bad inputs give one clear line
// and a non-zero exit without writing anything.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "core/hdf5_file.h"
#include "datasets/dataset.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;

class DataCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pelab_data_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << text;
  }

  // A folder of 12 small text files.
  void make_folder_corpus() {
    for (int i = 0; i < 12; ++i) {
      std::string t;
      for (int j = 0; j <= i; ++j) t += "File " + std::to_string(i) + ", line " + std::to_string(j) + ".\n";
      write("texts/f" + std::to_string(100 + i) + ".txt", t);
    }
  }

  void expect_clean_failure(const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    RunResult r = run_pelab(args, dir_);
    EXPECT_NE(r.rc, 0);
    EXPECT_LT(r.rc, 128) << "killed by a signal";
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("pelab: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }

  fs::path dir_;
};

TEST_F(DataCliTest, PrepareFolderThenInfo) {
  make_folder_corpus();
  RunResult r = run_pelab("data prepare --corpus texts --out prepared --data.val-fraction 0.1 --data.test-fraction 0.1 "
                          "--data.split-seed 3",
                          dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("corpus path: 12 documents"), std::string::npos) << r.out;
  const data::Dataset ds = data::load_dataset((dir_ / "prepared").string());
  EXPECT_EQ(ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs(), 12);
  EXPECT_EQ(ds.split_options.seed, 3u);
  EXPECT_EQ(ds.source, fs::absolute(dir_ / "texts").lexically_normal().string());
  {
    h5::File f = h5::File::open_read((dir_ / "prepared" / "dataset.h5").string());
    EXPECT_EQ(f.attr_string("command"), "data");
    EXPECT_NE(f.attr_string("config_ini").find("split-seed = 3"), std::string::npos);
    EXPECT_EQ(f.attr_string("checksum"), ds.checksum());
  }
  // The same command again gives the same data (created_utc aside).
  ASSERT_EQ(run_pelab("data prepare --corpus texts --out again --data.val-fraction 0.1 --data.test-fraction 0.1 "
                      "--data.split-seed 3",
                      dir_)
                .rc,
            0);
  EXPECT_EQ(data::load_dataset((dir_ / "again").string()).checksum(), ds.checksum());
  EXPECT_EQ(data::load_dataset((dir_ / "again").string()).test.names, ds.test.names);

  RunResult info = run_pelab("data info --dir prepared", dir_);
  ASSERT_EQ(info.rc, 0) << info.err;
  EXPECT_NE(info.out.find("corpus    path"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find(ds.test.checksum()), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("(verified)"), std::string::npos);
  EXPECT_EQ(run_pelab("data info --data.dir prepared", dir_).rc, 0);
}

TEST_F(DataCliTest, SingleFileCorpus) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "Paragraph number " + std::to_string(i) + " of the book.\n\n";
  write("book.txt", text);
  RunResult r = run_pelab("data prepare --corpus book.txt --out out --data.doc-bytes 1000", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const data::Dataset ds = data::load_dataset((dir_ / "out").string());
  EXPECT_EQ(ds.num_tokens(), static_cast<int64_t>(text.size()));
  EXPECT_GE(ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs(), 9);
}

TEST_F(DataCliTest, BadInputsAreOneLine) {
  make_folder_corpus();
  write("empty.txt", "");
  write("tiny.txt", "one short paragraph\n");
  expect_clean_failure("data prepare --corpus shakespeare --out o", "unknown corpus 'shakespeare'");
  expect_clean_failure("data prepare --corpus ./missing.txt --out o", "corpus path './missing.txt' does not exist");
  expect_clean_failure("data prepare --corpus empty.txt --out o", "is empty");
  expect_clean_failure("data prepare --corpus tiny.txt --out o", "needs at least 3");
  expect_clean_failure("data prepare --out o", "missing --corpus");
  expect_clean_failure("data prepare --corpus texts", "missing --out");
  expect_clean_failure("data prepare --corpus texts --out o --data.val-fraction 0", "--data.val-fraction must be in (0, 1)");
  expect_clean_failure("data prepare --corpus texts --out o --data.test-fraction x", "not a finite number");
  expect_clean_failure("data prepare --corpus texts --out o --data.bogus 1", "unknown option");
  expect_clean_failure("data compress --corpus texts --out o", "unknown action 'compress'");
  expect_clean_failure("data --corpus texts --out o", "missing action");
  EXPECT_FALSE(fs::exists(dir_ / "o")) << "nothing written on failure";
  write("afile", "x");
  expect_clean_failure("data prepare --corpus texts --out afile", "exists and is not a folder");
}

TEST_F(DataCliTest, InfoOnMissingOrCorruptData) {
  expect_clean_failure("data info --dir nowhere", "data folder 'nowhere' does not exist");
  expect_clean_failure("data info", "missing --dir");
  fs::create_directories(dir_ / "bad");
  expect_clean_failure("data info --dir bad", "no dataset.h5 in 'bad'");
  write("bad/dataset.h5", "garbage, not HDF5");
  expect_clean_failure("data info --dir bad", "no pelab seal");
}

TEST_F(DataCliTest, HelpListsTheDataGroup) {
  RunResult r = run_pelab("help data", dir_);
  ASSERT_EQ(r.rc, 0);
  for (const char* opt : {"--corpus", "--out", "--data.val-fraction", "--data.test-fraction", "--data.split-seed",
                          "--data.synthetic", "--data.synthetic-rate", "--data.doc-bytes"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
}

TEST_F(DataCliTest, PrepareKjv) {
  if (!fs::exists("/usr/bin/bible") || !fs::exists("/usr/lib/bible.data"))
    GTEST_SKIP() << "bible-kjv / bible-kjv-text not installed (bash scripts/install-deps)";
  RunResult r = run_pelab("data prepare --corpus kjv --out kjv", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("corpus kjv: 66 documents"), std::string::npos) << r.out;
  const data::Dataset ds = data::load_dataset((dir_ / "kjv").string());
  EXPECT_EQ(ds.corpus, "kjv");
  EXPECT_NE(ds.source.find("bible-kjv-text"), std::string::npos);
  EXPECT_EQ(ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs(), 66);
  EXPECT_GE(ds.val.num_tokens(), 0.05 * ds.num_tokens());
  EXPECT_GE(ds.test.num_tokens(), 0.05 * ds.num_tokens());
}

}  // namespace
}  // namespace pelab
