// Sweeps and claims: the sweep file's points and commands, the check language
// against hand-made results, and `pelab sweep` / `pelab reproduce` as a user
// meets them on a micro model (run, rerun skipping what is done, the Slurm
// array tasks run one by one as a machine without Slurm would, bad input).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "build_info.h"
#include "cli_runner.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hdf5_file.h"
#include "core/ini.h"
#include "experiments/claim.h"
#include "experiments/sweep.h"
#include "experiments/sweep_summary.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;
using testing::expect_clean_failure;
using testing::slurp;

Sweep sweep_of(const std::string& text) { return parse_sweep(parse_ini(text, "test"), "", "test"); }

const char* kSweep =
    "[sweep]\nname = s\nconfig = base.ini\nout = runs/s\n"
    "[axes]\npe = rope, alibi\ntrain.seed = 1, 2, 3\n"
    "[set]\ntrain.steps = 10\ntrain.length = 16\n"
    "[eval.far]\nlengths = 1T, 4T, 100\n[analyze.default]\nlength = 2T\n";

TEST(Sweep, PointsAreTheProductOfTheAxesLastFastest) {
  const Sweep s = sweep_of(kSweep);
  const auto points = sweep_points(s);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].name, "pe-rope_train.seed-1");
  EXPECT_EQ(points[1].name, "pe-rope_train.seed-2");
  EXPECT_EQ(points[3].name, "pe-alibi_train.seed-1");
  EXPECT_EQ(points[5].dir, "runs/s/pe-alibi_train.seed-3");
  EXPECT_EQ(points[4].settings, (Options{{"pe", "alibi"}, {"train.seed", "2"}}));
  // A `runs` folder shared with other sweeps holds the run folders; logs and summary stay in out.
  const Sweep shared = sweep_of(std::string(kSweep) + "[sweep]\nruns = runs/shared\n");
  EXPECT_EQ(sweep_points(shared)[5].dir, "runs/shared/pe-alibi_train.seed-3");
}

TEST(Sweep, CommandsExpandMultiplesOfTheTrainingLength) {
  const Sweep s = sweep_of(kSweep);
  const auto cmds = point_commands(s, sweep_points(s)[1], "pelab");
  ASSERT_EQ(cmds.size(), 3u);
  const std::vector<std::string> train = {"pelab", "train", "--config", "base.ini", "--out", "runs/s/pe-rope_train.seed-2",
                                          "--quiet", "--pe", "rope", "--train.seed", "2", "--train.steps", "10",
                                          "--train.length", "16"};
  EXPECT_EQ(cmds[0], train);
  EXPECT_EQ(cmds[1], (std::vector<std::string>{"pelab", "eval", "--run", "runs/s/pe-rope_train.seed-2", "--label", "far",
                                               "--quiet", "--lengths", "16,64,100"}));
  EXPECT_EQ(cmds[2].back(), "32");
}

TEST(Sweep, FineTunesRunFromTheirPointAndStagesCanEvaluateThem) {
  const Sweep s = sweep_of(std::string(kSweep) +
                           "[finetune.pi4]\npe.scaling = linear\npe.factor = 4\ntrain.length = 4T\n"
                           "[eval.pi4-far]\non = pi4\nlengths = 4T\n");
  const auto cmds = point_commands(s, sweep_points(s)[0], "pelab");
  ASSERT_EQ(cmds.size(), 5u);  // train, the fine-tune, three stages
  EXPECT_EQ(cmds[1], (std::vector<std::string>{"pelab", "train", "--init-from", "runs/s/pe-rope_train.seed-1", "--out",
                                               "runs/s/pe-rope_train.seed-1+pi4", "--quiet", "--pe.scaling", "linear",
                                               "--pe.factor", "4", "--train.length", "64"}));
  EXPECT_EQ(cmds[4], (std::vector<std::string>{"pelab", "eval", "--run", "runs/s/pe-rope_train.seed-1+pi4", "--label",
                                               "pi4-far", "--quiet", "--lengths", "64"}));
  EXPECT_THROW(sweep_of(std::string(kSweep) + "[eval.x]\non = nothing\nlengths = 4\n"), Error);
}

TEST(Sweep, SeedsReplicateEveryPointAndPairTheProbes) {
  const std::string head = "[sweep]\nname = s\nconfig = base.ini\nout = runs/s\n";
  Sweep s = sweep_of(head + "seeds = 3\n[axes]\npe = rope, alibi\n[eval.pk]\nprobe = passkey\nlengths = 100\n");
  EXPECT_EQ(seed_count(s), 3);
  auto points = sweep_points(s);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[1].name, "pe-rope_train.seed-2");
  const auto cmds = point_commands(s, points[4], "pelab");
  EXPECT_EQ(cmds[1], (std::vector<std::string>{"pelab", "eval", "--run", "runs/s/pe-alibi_train.seed-2", "--label", "pk",
                                               "--quiet", "--probe", "passkey", "--lengths", "100", "--seed", "2"}));
  set_seeds(s, 2, "--seeds");  // replaces the file's
  EXPECT_EQ(sweep_points(s).size(), 4u);
  set_seeds(s, 1, "--seeds");
  EXPECT_EQ(sweep_points(s).size(), 2u);
  EXPECT_EQ(seed_count(s), 1);
  EXPECT_THROW(set_seeds(s, 0, "--seeds"), Error);
  EXPECT_THROW(set_seeds(s, 1001, "--seeds"), Error);
  // Fresh seeds for a pre-registered rerun: seed-base = 100 trains 101.., also for one seed.
  Sweep fresh = sweep_of(head + "seeds = 2\nseed-base = 100\n[axes]\npe = rope\n[eval.pk]\nprobe = passkey\nlengths = 200\n");
  auto fp = sweep_points(fresh);
  ASSERT_EQ(fp.size(), 2u);
  EXPECT_EQ(fp[1].name, "pe-rope_train.seed-102");
  EXPECT_EQ(point_commands(fresh, fp[0], "pelab")[1].back(), "101");  // the probe's --seed follows
  set_seeds(fresh, 1, "--seeds");
  ASSERT_EQ(sweep_points(fresh).size(), 1u);
  EXPECT_EQ(sweep_points(fresh)[0].name, "pe-rope_train.seed-101");
  EXPECT_THROW(sweep_of(head + "seed-base = -1\n"), Error);
  EXPECT_THROW(sweep_of(head + "seeds = 0\n"), Error);
  EXPECT_THROW(sweep_of(head + "seeds = many\n"), Error);
  EXPECT_THROW(sweep_of(head + "seeds = 2\n[axes]\ntrain.seed = 1, 2\n"), Error);
  EXPECT_THROW(sweep_of(head + "seeds = 2\n[set]\ntrain.seed = 4\n"), Error);
}

TEST(Sweep, BadFilesAreClearErrors) {
  auto fails = [](const std::string& text, const std::string& needle) {
    try {
      sweep_of(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const std::string head = "[sweep]\nname = s\nconfig = c.ini\n";
  fails("[sweep]\nconfig = c.ini\n", "no [sweep] name");
  fails(head + "[axes]\npe = rope, rope\n", "twice");
  fails(head + "[axes]\npe = rope,\n", "empty value");
  fails(head + "[axes]\npe = rope\n[set]\npe = alibi\n", "both an axis and in [set]");
  fails(head + "[set]\nout = x\n", "sets 'out' itself");
  fails(head + "[other]\nx = 1\n", "unknown key");
  fails(head + "[eval.a/b]\nlengths = 4\n", "not a result label");
  fails("[sweep]\nname = ../x\nconfig = c.ini\n", "not a folder name");
  EXPECT_THROW(sweep_points(sweep_of(head + "[axes]\ndata.dir = a/b, a_b\n")), Error);
}

// Hand-made results: two encodings, two seeds each.
std::vector<PointResult> fake_results() {
  std::vector<PointResult> out;
  const double ppl[2][2] = {{9.0, 11.0}, {4.0, 4.2}};  // [rope, alibi] x [seed]
  for (int e = 0; e < 2; ++e)
    for (int seed = 0; seed < 2; ++seed) {
      PointResult r;
      r.point.name = std::string(e ? "alibi" : "rope") + std::to_string(seed);
      r.point.settings = {{"pe", e ? "alibi" : "rope"}, {"train.seed", std::to_string(seed + 1)}};
      r.trained = true;
      r.train_len = 64;
      r.val_loss = 1.0 + e + 0.01 * seed;
      r.eval["nonoverlap/nonoverlap"] = {{64, 256}, {4.0, ppl[e][seed]}, "text", {}};
      out.push_back(r);
    }
  return out;
}

// The language: chains, arithmetic, selectors (tests/test_claim.cc has the statistics of verdicts).
TEST(Check, ChainsArithmeticAndSelectors) {
  const auto r = fake_results();
  Verdict v = evaluate_check("ppl(pe=rope, eval=nonoverlap, L=4T) > 2 * ppl(pe=alibi, eval=nonoverlap, L=256)", r);
  ASSERT_EQ(v.comparisons.size(), 1u);
  EXPECT_NEAR(v.comparisons[0].lhs_mean, std::sqrt(99.0), 1e-9);              // geometric mean of 9 and 11
  EXPECT_NEAR(v.comparisons[0].rhs_mean, 2 * std::sqrt(4.0 * 4.2), 1e-9);
  v = evaluate_check("ppl(pe=rope, eval=nonoverlap, L=4T) > ppl(pe=alibi, eval=nonoverlap, L=4T) > 5", r);
  EXPECT_EQ(v.comparisons.size(), 2u);
  // 4.1 > 5 with 2 seeds (t at 1 df = 12.7): not ruled out, undecided.
  EXPECT_EQ(v.comparisons[1].outcome, stats::Outcome::UNDECIDED) << v.detail;
  EXPECT_EQ(v.verdict, "INCONCLUSIVE");
  // A selector of one seed leaves one seed, and these results stored no windows: no interval to be had.
  EXPECT_THROW(evaluate_check("ppl(pe=rope, train.seed=2, eval=nonoverlap, L=1T) <= 4", r), Error);
  v = evaluate_check("(val_loss(pe=alibi) - 1) / 2 >= 0.5 by 0", r);
  EXPECT_NEAR(v.comparisons[0].lhs_mean, 0.5025, 1e-12);
}

TEST(Check, BenchMetricsAverageTheMatchingRowsOfABenchmark) {
  BenchRows bench;
  bench["flash"] = {{{"impl", "flash"}, {"seq", "1024"}, {"gflops", "10"}, {"pass", "forward"}},
                    {{"impl", "flash"}, {"seq", "4096"}, {"gflops", "20"}, {"pass", "forward"}},
                    {{"impl", "flash"}, {"seq", "4096"}, {"gflops", "30"}, {"pass", "backward"}}};
  Verdict v = evaluate_check("bench(label=flash, value=gflops, seq=4096) > 1.2 * bench(label=flash, value=gflops, seq=1024)",
                             {}, bench);
  EXPECT_TRUE(v.pass()) << v.detail;  // the mean of both passes, 25 > 12, taken as measured
  EXPECT_EQ(v.comparisons[0].lhs_mean, 25);
  EXPECT_NE(v.detail.find("benchmark numbers are taken as measured"), std::string::npos) << v.detail;
  v = evaluate_check("bench(label=flash, value=gflops, seq=4096, pass=forward) >= 21", {}, bench);
  EXPECT_EQ(v.verdict, "FAIL") << v.detail;
  v = evaluate_check("bench(label=flash, value=gflops, seq=4096, pass=forward) >= 20", {}, bench);
  EXPECT_EQ(v.verdict, "INCONCLUSIVE") << v.detail;  // a tie decides nothing
  auto error = [&](const std::string& check) {
    try {
      evaluate_check(check, {}, bench);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("bench(label=naive, value=gflops) > 0").find("benchmark 'naive' has no results"), std::string::npos);
  EXPECT_NE(error("bench(label=flash, value=gflops, seq=8) > 0").find("no row of benchmark 'flash'"), std::string::npos);
  EXPECT_NE(error("bench(label=flash, seq=8) > 0").find("needs label=... and value=..."), std::string::npos);
  EXPECT_NE(error("bench(label=flash, value=watts) > 0").find("has no field 'watts'"), std::string::npos);
}

TEST(Sweep, BenchSectionsAndSweepsOfBenchmarksOnly) {
  const Sweep s = sweep_of("[sweep]\nname = b\n[bench.flash]\ntopic = attention\nseq = 64, 128\ncausal = true\n");
  EXPECT_TRUE(sweep_points(s).empty());
  ASSERT_EQ(s.benches.size(), 1u);
  EXPECT_EQ(bench_command(s.benches[0], "pelab"),
            (std::vector<std::string>{"pelab", "bench", "attention", "--json", "--seq", "64, 128", "--causal"}));
  EXPECT_EQ(bench_file(s, s.benches[0]), "runs/sweeps/b/bench/flash.jsonl");
  EXPECT_THROW(sweep_of("[sweep]\nname = b\n[bench.flash]\nseq = 64\n"), Error);                 // no topic
  EXPECT_THROW(sweep_of("[sweep]\nname = b\n[bench.flash]\ntopic = gpu\n"), Error);              // no such topic
  EXPECT_THROW(sweep_of("[sweep]\nname = b\n[bench.flash]\ntopic = eval\njson = true\n"), Error);  // its own
  EXPECT_THROW(sweep_of("[sweep]\nname = b\n[axes]\npe = rope\n[bench.f]\ntopic = eval\n"), Error);  // trains: config
}

TEST(Check, MalformedChecksAndMissingResultsAreErrors) {
  const auto r = fake_results();
  for (const char* bad : {"ppl(pe=rope", "ppl(pe=rope, eval=nonoverlap, L=4T)", "perplexity(pe=rope) > 1", "1 > ",
                          "val_loss(pe) > 1", "val_loss() > 1 or 2 > 1"})
    EXPECT_THROW(parse_check(bad), Error) << bad;
  EXPECT_THROW(evaluate_check("val_loss(pe=xpos) > 1", r), Error);               // no point matches
  EXPECT_THROW(evaluate_check("ppl(pe=rope, eval=sliding, L=1T) > 1", r), Error);  // no such result
  EXPECT_THROW(evaluate_check("ppl(pe=rope, eval=nonoverlap, L=3T) > 1", r), Error);
  EXPECT_THROW(evaluate_check("resolution(pe=rope, analyze=default, at=T) > 1", r), Error);
}

// ------------------------------------------------------------ the commands

class SweepCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("pelab_sweep_cli_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "texts");
    const char* words[] = {"in", "the", "beginning", "was", "the", "word", "and", "light", "upon", "waters"};
    for (int i = 0; i < 8; ++i) {
      std::string t;
      for (int j = 0; j < 60; ++j) {
        for (int k = 0; k < 7; ++k) t += std::string(words[(i + j * 3 + k * 7) % 10]) + (k < 6 ? " " : "");
        t += ".\n";
      }
      std::ofstream(dir_ / "texts" / ("f" + std::to_string(i) + ".txt")) << t;
    }
    ok_ = run_pelab("data prepare --corpus texts --out data --data.val-fraction 0.2 --data.test-fraction 0.2", dir_).rc == 0;
    std::ofstream(dir_ / "base.ini") << "[model]\nd-model = 16\nn-layers = 1\nn-heads = 2\n"
                                        "[train]\nlength = 16\nbatch = 4\nsteps = 12\nlr = 1e-2\nwarmup = 2\n"
                                        "eval-every = 6\neval-batches = 2\ncheckpoint-every = 6\nlog-every = 3\n"
                                        "[data]\ndir = data\n";
    std::ofstream(dir_ / "sweep.ini") << "[sweep]\nname = micro\nconfig = base.ini\nout = out/micro\n"
                                         "[axes]\npe = rope, alibi\n[set]\ntrain.threads = 1\n"
                                         "[eval.nonoverlap]\nlengths = 1T, 2T\neval.max-tokens = 128\n"
                                         "[analyze.default]\nlength = 2T\nwindows = 1\n";
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  void SetUp() override { ASSERT_TRUE(ok_) << "could not prepare the data in " << dir_; }

  static fs::path dir_;
  static bool ok_;
};

fs::path SweepCliTest::dir_;
bool SweepCliTest::ok_ = false;

TEST_F(SweepCliTest, RunsEveryPointThenSkipsWhatIsDone) {
  RunResult r = run_pelab("sweep --config sweep.ini --jobs 2 --threads 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* p : {"pe-rope", "pe-alibi"}) {
    const h5::File f = h5::File::open_read((dir_ / "out/micro" / p / "run.h5").string());
    EXPECT_EQ(f.attr_string("status"), "done");
    EXPECT_TRUE(f.has("eval/nonoverlap/nonoverlap/ppl"));
    EXPECT_TRUE(f.has("analyze/default/layer0"));
  }
  const h5::File s = h5::File::open_read((dir_ / "out/micro/summary.h5").string());
  EXPECT_EQ(s.attr_string("file_kind"), "sweep_summary");
  EXPECT_EQ(s.read<double>("table/val_loss").size(), 2u);
  EXPECT_EQ(s.read<double>("points/pe-alibi/eval/nonoverlap/nonoverlap/ppl").size(), 2u);
  EXPECT_NE(r.out.find("| alibi | done | 12 |"), std::string::npos) << r.out;

  const std::string log_before = slurp(dir_ / "out/micro/logs/pe-rope.log");
  r = run_pelab("sweep --config sweep.ini", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(slurp(dir_ / "out/micro/logs/pe-rope.log"), log_before) << "a finished point ran a command again";

  // A new stage runs on the finished points only.
  std::ofstream(dir_ / "sweep2.ini") << slurp(dir_ / "sweep.ini") << "[eval.far]\nlengths = 4T\neval.max-tokens = 128\n";
  r = run_pelab("sweep --config sweep2.ini --point 1", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string log = slurp(dir_ / "out/micro/logs/pe-alibi.log");
  EXPECT_NE(log.find("--label far"), std::string::npos);
  EXPECT_EQ(log.find("train --config", log.find("--label far")), std::string::npos);
}

TEST_F(SweepCliTest, ReportHasTheTablesAndAPngAndSvgPerFigure) {
  if (std::system("/usr/bin/python3 -c 'import matplotlib, h5py' 2> /dev/null") != 0)
    GTEST_SKIP() << "Debian's python3-matplotlib and python3-h5py are not installed";
  std::ofstream(dir_ / "report.ini") << slurp(dir_ / "sweep.ini") << "[eval.mqar]\nprobe = mqar\nlengths = 4T\ntrials = 2\n";
  RunResult r = run_pelab("sweep --config report.ini --out out/report-sweep --threads 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_pelab("report out/report-sweep --out report", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string md = slurp(dir_ / "report/report.md");
  EXPECT_NE(md.find("| rope | done | 12 |"), std::string::npos) << md;
  for (const char* fig : {"report-sweep-train", "report-sweep-eval-nonoverlap", "report-sweep-probes",
                          "report-sweep-attention-indices", "report-sweep-analyze-pe-alibi"})
    for (const char* ext : {".png", ".svg"}) {
      EXPECT_GT(fs::file_size(dir_ / "report" / (std::string(fig) + ext)), 1000u) << fig << ext;
      EXPECT_NE(md.find(std::string(fig) + ext), std::string::npos) << fig << ext;
    }
  expect_clean_failure(run_pelab("report nowhere --out report", dir_), "'nowhere' is not a folder");
  expect_clean_failure(run_pelab("report data --out report", dir_), "holds no run.h5");
}

TEST_F(SweepCliTest, FineTuneAndItsEvaluationEnterTheSummaryAndChecks) {
  std::ofstream(dir_ / "ft.ini") << "[sweep]\nname = ft\nconfig = base.ini\nout = out/ft\n[axes]\npe = rope\n"
                                    "[finetune.pi2]\npe.scaling = linear\npe.factor = 2\ntrain.length = 2T\n"
                                    "train.steps = 6\ntrain.lr = 1e-3\n"
                                    "[eval.far]\nlengths = 2T\neval.max-tokens = 128\n"
                                    "[eval.far-ft]\non = pi2\nlengths = 2T\neval.max-tokens = 128\n";
  RunResult r = run_pelab("sweep --config ft.ini --threads 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const h5::File f = h5::File::open_read((dir_ / "out/ft/pe-rope+pi2/run.h5").string());
  EXPECT_EQ(f.attr_string("init_from"), "out/ft/pe-rope");
  const h5::File s = h5::File::open_read((dir_ / "out/ft/summary.h5").string());
  EXPECT_TRUE(s.has("points/pe-rope/eval/pi2:far-ft/nonoverlap/ppl"));
  const Sweep sw = read_sweep_file((dir_ / "ft.ini").string());
  Sweep moved = sw;
  moved.out = (dir_ / "out/ft").string();
  const auto results = collect_results(moved, sweep_points(moved));
  const Verdict v = evaluate_check("ppl(eval=pi2:far-ft, L=2T) > 1 and ppl(eval=far, L=2T) > 1", results);
  EXPECT_TRUE(v.pass()) << v.detail;
  // Rerun: nothing left to do.
  const std::string log = slurp(dir_ / "out/ft/logs/pe-rope.log");
  ASSERT_EQ(run_pelab("sweep --config ft.ini", dir_).rc, 0);
  EXPECT_EQ(slurp(dir_ / "out/ft/logs/pe-rope.log"), log);
}

TEST_F(SweepCliTest, SharedRunsTrainEachModelOnceWhateverItsName) {
  // Trained by hand under a name of its own, with the default base written out, 1e4 for 10000
  // and another log cadence (none of which changes the model).
  RunResult r = run_pelab("train --config base.ini --pe rope --pe.base 1e4 --train.threads 1 --train.log-every 1 "
                          "--out shared/by-hand --quiet", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  std::ofstream(dir_ / "linked.ini") << "[sweep]\nname = linked\nconfig = base.ini\nout = out/linked\nruns = shared\n"
                                        "[axes]\npe.base = 10000, 500\n[set]\npe = rope\ntrain.threads = 1\n"
                                        "[eval.nonoverlap]\nlengths = 1T\neval.max-tokens = 64\n";
  r = run_pelab("sweep --config linked.ini", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(fs::is_symlink(dir_ / "shared/pe.base-10000"));
  EXPECT_EQ(fs::read_symlink(dir_ / "shared/pe.base-10000").string(), "by-hand");
  const std::string log = slurp(dir_ / "out/linked/logs/pe.base-10000.log");
  EXPECT_NE(log.find("-> by-hand (a run with the same training)"), std::string::npos) << log;
  EXPECT_EQ(log.find("train --config"), std::string::npos) << "the same model was trained again:\n" << log;
  EXPECT_TRUE(h5::File::open_read((dir_ / "shared/by-hand/run.h5").string()).has("eval/nonoverlap"));
  // Another base is another model: trained, not linked.
  EXPECT_FALSE(fs::is_symlink(dir_ / "shared/pe.base-500"));
  EXPECT_EQ(h5::File::open_read((dir_ / "shared/pe.base-500/run.h5").string()).attr_string("status"), "done");
  EXPECT_NE(run_pelab("train --config base.ini --print-config --pe alibi", dir_).out.find("pe = alibi"),
            std::string::npos);
  // The same point name for another training in the shared folder is refused, not reused.
  std::ofstream(dir_ / "clash.ini") << "[sweep]\nname = clash\nconfig = base.ini\nout = out/clash\nruns = shared\n"
                                       "[axes]\npe.base = 500\n[set]\npe = rope\ntrain.steps = 6\n";
  r = run_pelab("sweep --config clash.ini", dir_);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("a run with another training (train.steps: 6 vs 12"), std::string::npos) << r.err;
}

TEST_F(SweepCliTest, DryRunListsOnePointPerLine) {
  RunResult r = run_pelab("sweep --config sweep.ini --out elsewhere --dry-run", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  EXPECT_NE(r.out.find("0 pe-rope: "), std::string::npos);
  EXPECT_NE(r.out.find("eval --run elsewhere/pe-alibi --label nonoverlap --quiet --lengths 16,32"), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
}

TEST_F(SweepCliTest, SlurmArrayTasksRunOneByOneWithoutSlurm) {
  RunResult r = run_pelab("sweep --config sweep.ini --out out/slurm --emit-slurm slurm --slurm.max-parallel 3", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string array = slurp(dir_ / "slurm/array.sbatch");
  EXPECT_NE(array.find("#SBATCH --array=0-1%3"), std::string::npos) << array;
  EXPECT_NE(slurp(dir_ / "slurm/submit.sh").find("--dependency=afterok:"), std::string::npos);
  const std::string manifest = slurp(dir_ / "slurm/manifest.tsv");
  EXPECT_EQ(std::count(manifest.begin(), manifest.end(), '\n'), 3);
  for (int k = 0; k < 2; ++k) {
    r = run_pelab("SLURM_ARRAY_TASK_ID=" + std::to_string(k) + " bash slurm/array.sbatch", dir_, false);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  r = run_pelab("bash slurm/summary.sbatch", dir_, false);
  ASSERT_EQ(r.rc, 0) << r.err;
  const h5::File s = h5::File::open_read((dir_ / "out/slurm/summary.h5").string());
  EXPECT_EQ(s.read<int64_t>("table/trained"), (std::vector<int64_t>{1, 1}));
  r = run_pelab("bash slurm/array.sbatch", dir_, false);
  EXPECT_NE(r.rc, 0) << "an array task without SLURM_ARRAY_TASK_ID must refuse";
  // Seeds given on the command line travel with the tasks: the array covers every seed.
  r = run_pelab("sweep --config sweep.ini --out out/slurm-seeds --seeds 2 --emit-slurm slurm-seeds", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string seeded = slurp(dir_ / "slurm-seeds/array.sbatch");
  EXPECT_NE(seeded.find("#SBATCH --array=0-3%"), std::string::npos) << seeded;
  EXPECT_NE(seeded.find(" --seeds 2 --point "), std::string::npos) << seeded;
  EXPECT_NE(slurp(dir_ / "slurm-seeds/summary.sbatch").find(" --seeds 2 --summarize"), std::string::npos);
}

// Two sweeps on one run folder: a point the other holds is running elsewhere,
// not failed; no summary until every point is done; --wait waits for it.
TEST_F(SweepCliTest, APointAnotherProcessRunsIsRunningElsewhere) {
  std::ofstream(dir_ / "coop.ini") << "[sweep]\nname = coop\nconfig = base.ini\nout = out/coop\n"
                                      "[axes]\npe = rope, alibi\n[set]\ntrain.threads = 1\n";
  fs::create_directories(dir_ / "out/coop");
  {
    const FileLock held((dir_ / "out/coop/.pe-alibi.lock").string(), /*wait=*/true);
    RunResult r = run_pelab("sweep --config coop.ini", dir_);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find("pe-alibi is running elsewhere"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("FAILED"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("no summary yet"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir_ / "out/coop/summary.md"));
    EXPECT_TRUE(fs::exists(dir_ / "out/coop/pe-rope/run.h5"));
    EXPECT_FALSE(fs::exists(dir_ / "out/coop/pe-alibi"));
  }
  // Released (the other process ended): --wait takes it at once and finishes.
  RunResult r = run_pelab("sweep --config coop.ini --wait", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out/coop/summary.md"));
}

TEST_F(SweepCliTest, BadInputIsOneClearLine) {
  std::ofstream(dir_ / "bad-option.ini") << "[sweep]\nname = b\nconfig = base.ini\n[set]\ntrain.no-such = 1\n";
  expect_clean_failure(run_pelab("sweep --config bad-option.ini --dry-run", dir_), "not an option of pelab train");
  std::ofstream(dir_ / "bad-stage.ini") << "[sweep]\nname = b\nconfig = base.ini\n[eval.x]\nlength = 1T\n";
  expect_clean_failure(run_pelab("sweep --config bad-stage.ini --dry-run", dir_), "not an option of pelab eval");
  std::ofstream(dir_ / "no-base.ini") << "[sweep]\nname = b\nconfig = missing.ini\n";
  expect_clean_failure(run_pelab("sweep --config no-base.ini", dir_), "cannot be opened");
  expect_clean_failure(run_pelab("sweep --config sweep.ini --point 2", dir_), "not a point of this sweep");
  expect_clean_failure(run_pelab("sweep --config sweep.ini --point 0 --dry-run", dir_), "exclude each other");
  expect_clean_failure(run_pelab("sweep --config nowhere.ini", dir_), "nowhere.ini");
  expect_clean_failure(run_pelab("sweep", dir_), "missing --config");
  // A point whose training fails: the sweep goes on and names it.
  std::ofstream(dir_ / "fails.ini") << "[sweep]\nname = f\nconfig = base.ini\nout = out/f\n[axes]\ntrain.lr = 1e-2, -1\n";
  RunResult r = run_pelab("sweep --config fails.ini", dir_);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("1 point(s) failed: train.lr--1"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out/f/train.lr-1e-2/run.h5"));
}

TEST_F(SweepCliTest, ReproduceGivesAVerdictWithOurNumbers) {
  fs::create_directories(dir_ / "claims");
  std::ofstream(dir_ / "claims/micro.ini")
      << "[claim]\nname = micro-claim\npaper = nobody\nstatement = training lowers the loss below uniform\n"
         "paper-numbers = ln 256 = 5.55\ncheck = val_loss(pe=rope) < 5.55 and val_loss(pe=alibi) < 5.55\n"
         "[quick.sweep]\nname = micro-quick\nconfig = base.ini\nseeds = 2\n[quick.axes]\npe = rope, alibi\n"
         "[full.sweep]\nname = micro-full\nconfig = base.ini\n[full.axes]\npe = rope, alibi\n[full.set]\ntrain.steps = 24\n";
  std::ofstream(dir_ / "claims/impossible.ini")
      << "[claim]\nname = impossible\npaper = nobody\nstatement = a loss below zero\npaper-numbers = none\n"
         "check = val_loss(pe=rope) < 0\n[quick.sweep]\nname = q\nconfig = base.ini\nseeds = 2\n[quick.axes]\npe = rope\n"
         "[full.sweep]\nname = f\nconfig = base.ini\n";
  RunResult r = run_pelab("reproduce --claims claims --list", dir_);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("micro-claim"), std::string::npos);
  r = run_pelab("reproduce all --claims claims --out repro --threads 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("## micro-claim (quick, 2 seeds): PASS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("## impossible (quick, 2 seeds): FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[contradicted] val_loss(pe=rope) < 0"), std::string::npos) << r.out;
  const std::string verdicts = slurp(dir_ / "repro/verdicts.md");
  EXPECT_NE(verdicts.find("| micro-claim | quick | 2 | PASS | holds "), std::string::npos) << verdicts;
  // --seeds overrides the recipe's, and --json ends the output with one object per claim.
  r = run_pelab("reproduce impossible --claims claims --out repro --threads 2 --seeds 3 --json", dir_);
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  const std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  EXPECT_EQ(last.find("{\"claim\": \"impossible\", \"budget\": \"quick\", \"seeds\": 3, \"verdict\": \"FAIL\""), 0u)
      << last;
  EXPECT_TRUE(fs::exists(dir_ / "repro/impossible/quick/pe-rope_train.seed-3/run.h5"));
  // A claim file from anywhere.
  r = run_pelab("reproduce claims/impossible.ini --out repro --threads 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("## impossible (quick, 2 seeds): FAIL"), std::string::npos) << r.out;
  expect_clean_failure(run_pelab("reproduce impossible --claims claims --seeds 0", dir_), "seeds must be in [1, 1000]");
  expect_clean_failure(run_pelab("reproduce impossible --claims claims --seeds 100000", dir_), "seeds must be in [1, 1000]");
  expect_clean_failure(run_pelab("reproduce impossible --claims claims --seeds x", dir_), "--seeds");
  expect_clean_failure(run_pelab("reproduce nowhere.ini", dir_), "no claim file 'nowhere.ini'");
  // Arms that differ in nothing the model sees (the logging cadence) and 2 seeds: whichever
  // direction is claimed, never PASS.
  for (const char* op : {">", "<"}) {
    std::ofstream(dir_ / "noise.ini")
        << "[claim]\nname = noise\npaper = nobody\nstatement = logging changes the model\npaper-numbers = none\n"
           "check = ppl(train.log-every=3, eval=n, L=1T) " << op << " ppl(train.log-every=6, eval=n, L=1T)\n"
           "[quick.sweep]\nname = nq\nconfig = base.ini\nseeds = 2\n[quick.axes]\ntrain.log-every = 3, 6\n"
           "[quick.eval.n]\nlengths = 1T\neval.max-tokens = 128\n[full.sweep]\nname = nf\nconfig = base.ini\n";
    r = run_pelab("reproduce noise.ini --out repro --threads 2", dir_);
    ASSERT_EQ(r.rc, 0) << r.err << r.out;
    EXPECT_EQ(r.out.find("): PASS"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("## noise (quick, 2 seeds): "), std::string::npos) << r.out;
  }
  std::ofstream(dir_ / "no-claim.ini") << "[quick.sweep]\nname = q\nconfig = base.ini\n";
  expect_clean_failure(run_pelab("reproduce no-claim.ini", dir_), "lacks one of [claim]");
  expect_clean_failure(run_pelab("reproduce nothing --claims claims", dir_), "no claim 'nothing'");
  // A claim of benchmarks only (flash-attention's shape): no training, a verdict on the JSON lines.
  fs::create_directories(dir_ / "bench-claims");
  std::ofstream(dir_ / "bench-claims/kernels.ini")
      << "[claim]\nname = kernels\npaper = nobody\nstatement = flash is exact\npaper-numbers = none\n"
         "check = bench(label=flash, value=check_max_err_o, seq=128) <= bench(label=flash, value=check_tol_o, seq=128)\n"
         "[quick.sweep]\nname = kq\n[quick.bench.flash]\ntopic = attention\nseq = 64, 128\nhead-dim = 16\n"
         "heads = 2\ncausal = true\nmin-time = 0.01\ncheck-seq = 32\n[full.sweep]\nname = kf\n[full.bench.flash]\ntopic = attention\n";
  r = run_pelab("reproduce kernels --claims bench-claims --out repro-bench --threads 2", dir_);
  ASSERT_EQ(r.rc, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("## kernels (quick, 1 seed): PASS"), std::string::npos) << r.out;
  EXPECT_NE(slurp(dir_ / "repro-bench/kernels/quick/summary.md").find("## Benchmark flash"), std::string::npos);
  const std::string jsonl = slurp(dir_ / "repro-bench/kernels/quick/bench/flash.jsonl");
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 2) << jsonl;
  expect_clean_failure(run_pelab("reproduce all --claims claims --budget huge", dir_), "--budget must be quick or full");
}

// Every sweep and claim file the project ships resolves into points and commands (a dry run, from a folder
// that sees the source's experiments/ as the project root would): a broken edit of one fails here, not
// hours into a user's run.
TEST(ShippedExperiments, EverySweepAndClaimDryRuns) {
  const fs::path source = PELAB_SOURCE_DIR;
  const fs::path dir = fs::temp_directory_path() / ("pelab_shipped_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::create_directory_symlink(source / "experiments", dir / "experiments");
  int sweeps = 0;
  for (const auto& e : fs::directory_iterator(source / "experiments/sweeps")) {
    if (e.path().extension() != ".ini") continue;
    RunResult r = run_pelab("sweep --dry-run --config experiments/sweeps/" + e.path().filename().string(), dir);
    EXPECT_EQ(r.rc, 0) << e.path() << ": " << r.err;
    EXPECT_NE(r.out.find("0 pe"), std::string::npos) << e.path() << " lists no point:\n" << r.out;
    ++sweeps;
  }
  EXPECT_GE(sweeps, 4);
  std::vector<std::string> claims;
  for (const auto& e : fs::directory_iterator(source / "experiments/claims"))
    if (e.path().extension() == ".ini") claims.push_back(e.path().stem().string());
  EXPECT_GE(claims.size(), 13u);
  for (const char* budget : {"quick", "full"}) {
    RunResult r = run_pelab(std::string("reproduce all --dry-run --budget ") + budget, dir);
    EXPECT_EQ(r.rc, 0) << budget << ": " << r.err;
    for (const auto& c : claims) EXPECT_NE(r.out.find(c + " "), std::string::npos) << c << " (" << budget << ")";
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1) << "a dry run wrote into " << dir;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pelab
