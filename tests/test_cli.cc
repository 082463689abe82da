// The command line as a user meets it: every bad input gets exactly one line
// on stderr ("pelab: error: ..."), a non-zero exit, no abort or stack trace,
// and no output file (partial or not) under the real name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "core/hdf5_file.h"

namespace pelab {
namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pelab_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  // Runs a command that must fail cleanly and mention `needle` in its one line.
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
    // Nothing left behind: no result, no temporary.
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      EXPECT_TRUE(name == "cfg.ini" || name == "bad.ini") << "left behind: " << name;
    }
  }

  fs::path dir_;
};

TEST_F(CliTest, BadInputsGiveOneClearLine) {
  const std::string ok = "decay --pe rope --head-dim 64 --max-distance 100 --out d.h5";
  expect_clean_failure("frobnicate", "unknown subcommand 'frobnicate'");
  expect_clean_failure(ok + " --frob 3", "unknown option");
  expect_clean_failure("decay --pe rope --head-dim abc --out d.h5", "invalid value 'abc' for --head-dim");
  expect_clean_failure("decay --pe rope --pe.base 1e4x --out d.h5", "--pe.base");
  expect_clean_failure("decay --pe rope --head-dim 0 --out d.h5", "--head-dim");
  expect_clean_failure("decay --pe rope --head-dim -8 --out d.h5", "--head-dim");
  expect_clean_failure("decay --pe alibi --heads 0 --out d.h5", "--heads");
  expect_clean_failure("decay --pe alibi --heads -3 --out d.h5", "--heads");
  expect_clean_failure("decay --pe rope --head-dim 63 --out d.h5", "even");
  expect_clean_failure("decay --pe xpos --head-dim 7 --out d.h5", "even");
  expect_clean_failure("decay --pe ropey --out d.h5", "unknown --pe 'ropey'");
  expect_clean_failure("decay --pe rope --pe.scaling wiggle --out d.h5", "unknown --pe.scaling");
  expect_clean_failure("decay --pe rope --pe.scaling yarn --pe.factor 4 --out d.h5", "--pe.original-length");
  expect_clean_failure("decay --pe rope --out no/such/dir/d.h5", "does not exist");
  expect_clean_failure("decay --pe rope --out .", "folder");
  expect_clean_failure("decay --pe rope", "--out");
  expect_clean_failure("decay --out d.h5", "--pe");
  expect_clean_failure("decay --pe learned --out d.h5", "learned");
  expect_clean_failure("decay --pe rope --max-distance 0 --out d.h5", "--max-distance");
  expect_clean_failure("decay --pe rope --out d.h5 --plot no/dir/x.png", "--plot");
  expect_clean_failure("decay --min-base-for 0", "--min-base-for lengths must be integers in [1, 4194304], got 0");
  expect_clean_failure("decay --min-base-for abc", "invalid value 'abc' for --min-base-for");
  expect_clean_failure("decay --min-base-for 1024,,4096", "empty item in --min-base-for");
  expect_clean_failure("decay --min-base-for 1024 --head-dim 63", "--head-dim must be even");
  expect_clean_failure("decay --min-base-for 1024 --pe rope --out d.h5", "--pe does not go with --min-base-for");
  expect_clean_failure("decay --min-base-for 1024 --print", "--print does not go with --min-base-for");
  expect_clean_failure("decay --min-base-for 1024 --min-base-per-decade 0", "--min-base-per-decade");
  expect_clean_failure("decay --min-base-for 4 --head-dim 2", "no RoPE base up to 1e12");
  expect_clean_failure(ok + " --json", "--json goes with --min-base-for");
  expect_clean_failure(ok + " --config missing.ini", "config file 'missing.ini'");
  expect_clean_failure("", "no subcommand");
}

TEST_F(CliTest, BadConfigFilesGiveOneClearLine) {
  const std::string ok = "decay --pe rope --head-dim 64 --max-distance 100 --out d.h5";
  write("bad.ini", "this line is not an assignment\n");
  expect_clean_failure(ok + " --config bad.ini", "bad.ini");
  write("bad.ini", "[pe]\nwiggle = 3\n");
  expect_clean_failure(ok + " --config bad.ini", "pe.wiggle");
  write("bad.ini", "[pe]\nbase = ten\n");
  expect_clean_failure(ok + " --config bad.ini", "invalid value 'ten' for --pe.base");
}

TEST_F(CliTest, ConfigFileSuppliesDefaultsAndCommandLineWins) {
  write("cfg.ini", "pe = alibi\nheads = 4\nmax-distance = 50\n[pe]\nbase = 500000\n");
  RunResult r = run_pelab("decay --config cfg.ini --out a.h5", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(h5::File::open_read((dir_ / "a.h5").string()).has("decay/alibi"));

  r = run_pelab("decay --config cfg.ini --pe rope --out b.h5", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  h5::File f = h5::File::open_read((dir_ / "b.h5").string());
  EXPECT_TRUE(f.has("decay/rope_b500000"));  // base from the file, --pe from the command line
  EXPECT_EQ(f.open_group("decay").attr_int("max_distance"), 50);
  const std::string ini = f.attr_string("config_ini");
  EXPECT_NE(ini.find("pe = rope"), std::string::npos) << ini;
  EXPECT_NE(ini.find("[pe]\n"), std::string::npos) << ini;
  EXPECT_NE(ini.find("base = 500000"), std::string::npos) << ini;
}

TEST_F(CliTest, ResolvedConfigRunsAgainToTheSameCurves) {
  RunResult r = run_pelab("decay --pe rope,alibi --pe.base 10000,500000 --heads 12 --max-distance 300 --out a.h5", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  write("cfg.ini", h5::File::open_read((dir_ / "a.h5").string()).attr_string("config_ini"));
  r = run_pelab("decay --config cfg.ini --out b.h5", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  h5::File a = h5::File::open_read((dir_ / "a.h5").string()), b = h5::File::open_read((dir_ / "b.h5").string());
  EXPECT_EQ(a.open_group("decay").children(), b.open_group("decay").children());
  EXPECT_EQ(a.open_group("decay/alibi").read<double>("bias"), b.open_group("decay/alibi").read<double>("bias"));
}

TEST_F(CliTest, HelpAndVersion) {
  RunResult r = run_pelab("help", dir_);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("decay"), std::string::npos);
  r = run_pelab("help decay", dir_);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("--pe.base"), std::string::npos);
  EXPECT_NE(r.out.find("(=10000)"), std::string::npos) << "defaults are shown";
  EXPECT_EQ(run_pelab("decay --help", dir_).out, r.out);
  r = run_pelab("version", dir_);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("pelab "), std::string::npos);
}

TEST_F(CliTest, DecayPrintsTableAndWritesEveryVariant) {
  RunResult r = run_pelab(
      "decay --pe rope,xpos,alibi,sinusoidal,t5,kerple --pe.base 10000,500000 --pe.scaling none,yarn --pe.factor 4 "
      "--pe.original-length 2048 --head-dim 128 --heads 8 --max-distance 4096 --out d.h5 --print",
      dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("rope_b10000"), std::string::npos);
  EXPECT_NE(r.out.find("4096"), std::string::npos);
  auto names = h5::File::open_read((dir_ / "d.h5").string()).open_group("decay").children();
  EXPECT_EQ(names.size(), 2u * 2 * 2 + 4) << "rope and xpos: 2 bases x 2 scalings each, plus 4 others";
}

// The RoPE base lower bound (arXiv 2405.14591): a table next to the paper's
// Table 2 and fit, or a JSON array; the values are test_theory.cc's.
TEST_F(CliTest, DecayMinBaseForPrintsTableOrJson) {
  RunResult r = run_pelab("decay --min-base-for 4096,1024", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("head dim 128"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10^(k/10000)"), std::string::npos) << r.out;
  const size_t row1k = r.out.find("      1024       4294.4      4.3e+03     3.37e+03     1.27\n");
  const size_t row4k = r.out.find("      4096        26953      2.7e+04     3.22e+04     0.84\n");
  ASSERT_NE(row1k, std::string::npos) << r.out;
  ASSERT_NE(row4k, std::string::npos) << r.out;
  EXPECT_LT(row1k, row4k) << "ascending lengths";
  EXPECT_NE(r.err.find("2 RoPE base bound(s) in"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(dir_)) << "writes no file";

  r = run_pelab("decay --min-base-for 1000,1024 --json", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("[\n{\"length\": 1000, ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\"paper\": null"), std::string::npos) << "1000 is not one of the paper's lengths";
  EXPECT_NE(r.out.find("},\n{\"length\": 1024, \"head_dim\": 128, \"per_decade\": 10000, \"min_base\": 4294.38, "
                       "\"paper\": 4300, "),
            std::string::npos)
      << r.out;
  ASSERT_GE(r.out.size(), 4u);
  EXPECT_EQ(r.out.substr(r.out.size() - 4), "}\n]\n");
}

}  // namespace pelab
