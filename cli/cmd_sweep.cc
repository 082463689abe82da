// `pelab sweep`: runs the points of a sweep file here (--jobs at once), lists
// them (--dry-run), runs one (--point K, what a Slurm array task calls), writes
// a Slurm job array for a cluster (--emit-slurm DIR), and summarizes the run
// folders (--summarize). The sweep itself: experiments/sweep.h.
#include <omp.h>

#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "cli/sweep_cli.h"
#include "core/error.h"
#include "core/files.h"
#include "core/process.h"
#include "core/strings.h"

namespace pelab::cli {

namespace fs = std::filesystem;

void sweep_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("out", po::value<std::string>(), "folder of the run folders (default: the sweep file's [sweep] out)")
   ("jobs", s("1"), "points run at once; the threads are split between them")
   ("threads", s("0"), "OpenMP threads in all (0: every core)")
   ("dry-run", po::bool_switch(), "list the points, one per line with their commands, and run nothing")
   ("seeds", po::value<std::string>(), "train every point with train.seed = 1..N (overrides the file's seeds = N)")
   ("wait", po::bool_switch(), "wait for points another process is running on the same run folders (else they are "
                               "reported as running elsewhere and the summary is left to the last sweep to finish)")
   ("point", po::value<std::string>(), "run only point K (0-based, as --dry-run numbers them): a Slurm array task")
   ("summarize", po::bool_switch(), "only rebuild summary.h5 and summary.md from the run folders")
   ("emit-slurm", po::value<std::string>(), "write a Slurm job array for the sweep into this folder and run nothing")
   ("slurm.max-parallel", s("4"), "--emit-slurm: array tasks running at once (#SBATCH --array=0-K%M)")
   ("slurm.cpus-per-task", s("2"), "--emit-slurm: cores per array task")
   ("slurm.partition", po::value<std::string>(), "--emit-slurm: partition (default: the cluster's default)")
   ("slurm.time", po::value<std::string>(), "--emit-slurm: time limit per task, e.g. 04:00:00");
}

int resolve_threads(long long threads) {
  PELAB_CHECK(threads >= 0 && threads <= 4096, "--threads must be in [0, 4096], got " << threads, "0 uses every core");
  return threads > 0 ? static_cast<int>(threads) : omp_get_max_threads();
}

void check_sweep_options(const Sweep& s) {
  auto check = [&](const std::string& command, const std::string& key, const std::string& where) {
    const auto desc = command_options(command);
    PELAB_CHECK(desc->all.find_nothrow(key, false) != nullptr,
                s.source << ": '" << key << "' in " << where << " is not an option of pelab " << command,
                "pelab help " << command << " lists its options");
  };
  for (const auto& a : s.axes) check("train", a.key, "[axes]");
  for (const auto& [k, v] : s.set) check("train", k, "[set]");
  for (const auto& f : s.finetunes)
    for (const auto& [k, v] : f.options) check("train", k, "[finetune." + f.label + "]");
  for (const auto& st : s.stages)
    for (const auto& [k, v] : st.options) check(st.command, k, "[" + st.command + "." + st.label + "]");
  for (const auto& b : s.benches)
    for (const auto& [k, v] : b.options) check("bench", k, "[bench." + b.label + "]");
  if (s.base_config.empty()) return;  // benchmarks only
  std::error_code ec;
  PELAB_CHECK(fs::is_regular_file(s.base_config, ec),
              s.source << ": base config '" << s.base_config << "' cannot be opened",
              "paths in a sweep are relative to the folder pelab runs in (the project root)");
}

SweepRun execute_sweep(const Sweep& s, int jobs, int threads, bool wait) {
  const auto points = sweep_points(s);
  SweepRun r = run_sweep(s, points, self_executable(), jobs, threads, wait);
  for (const auto& label : run_benches(s, self_executable(), threads)) r.failed.push_back("bench " + label);
  return r;
}

void apply_seeds_option(const Context& ctx, Sweep& s) {
  if (!ctx.has("seeds")) return;
  set_seeds(s, parse_int(ctx.str("seeds"), "--seeds"), "--seeds");
}

std::vector<PointResult> summarize_sweep(const Sweep& s, const std::string& command_line) {
  const auto results = collect_results(s, sweep_points(s));
  std::error_code ec;
  fs::create_directories(s.out, ec);
  write_summary(s, results, command_line);
  return results;
}

namespace {

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// The Slurm job array (one task per point), its summary job and a submit script.
void emit_slurm(const Context& ctx, const Sweep& s, const std::string& sweep_file, const std::string& dir) {
  const auto points = sweep_points(s);
  PELAB_CHECK(!points.empty(), s.source << " has no points (benchmarks only) to spread over a job array",
              "run it with pelab sweep --config " << sweep_file << " on the node to measure");
  const long long max_parallel = ctx.integer("slurm.max-parallel"), cpus = ctx.integer("slurm.cpus-per-task");
  PELAB_CHECK(max_parallel >= 1 && max_parallel <= 100000, "--slurm.max-parallel must be >= 1, got " << max_parallel,
              "e.g. --slurm.max-parallel 8");
  PELAB_CHECK(cpus >= 1 && cpus <= 4096, "--slurm.cpus-per-task must be in [1, 4096], got " << cpus,
              "e.g. --slurm.cpus-per-task 8");
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "logs", ec);
  PELAB_CHECK(!ec, "cannot create '" << dir << "/logs': " << ec.message(), "choose another --emit-slurm folder");
  // The tasks must see the same points: --seeds travels with them.
  const std::string seeds = ctx.has("seeds") ? " --seeds " + shell_quote(ctx.str("seeds")) : "";
  const std::string pelab = self_executable(), cwd = fs::current_path().string(), sweep = absolute(sweep_file),
                    out = absolute(s.out), logs = absolute((fs::path(dir) / "logs").string());
  auto header = [&](const std::string& job, const std::string& what) {
    std::string h = "#!/bin/bash\n# " + what + "\n# Written by: " + shell_command(ctx.argv()) + "\n";
    h += "#SBATCH --job-name=" + job + "\n#SBATCH --cpus-per-task=" + std::to_string(cpus) + "\n";
    h += "#SBATCH --chdir=" + cwd + "\n";
    if (ctx.has("slurm.partition")) h += "#SBATCH --partition=" + ctx.str("slurm.partition") + "\n";
    if (ctx.has("slurm.time")) h += "#SBATCH --time=" + ctx.str("slurm.time") + "\n";
    return h;
  };
  std::string array = header("pelab-" + s.name, "pelab sweep " + s.name + ": one array task per point of manifest.tsv "
                                                "(train, then its evaluations and analyses; finished steps are skipped).");
  array += "#SBATCH --array=0-" + std::to_string(points.size() - 1) + "%" + std::to_string(max_parallel) + "\n";
  array += "#SBATCH --output=" + logs + "/point-%a.out\n";
  array += "set -euo pipefail\n: \"${SLURM_ARRAY_TASK_ID:?submit with sbatch (submit.sh), or set SLURM_ARRAY_TASK_ID}\"\n";
  array += "cd " + shell_quote(cwd) + "\n";
  array += "exec " + shell_quote(pelab) + " sweep --config " + shell_quote(sweep) + " --out " + shell_quote(out) +
           seeds + " --point \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-" + std::to_string(cpus) + "}\"\n";
  std::string summary = header("pelab-" + s.name + "-summary",
                               "pelab sweep " + s.name + ": summary.h5 and summary.md once every array task succeeded.");
  summary += "#SBATCH --output=" + logs + "/summary.out\nset -euo pipefail\ncd " + shell_quote(cwd) + "\n";
  summary += "exec " + shell_quote(pelab) + " sweep --config " + shell_quote(sweep) + " --out " + shell_quote(out) +
             seeds + " --summarize\n";
  const std::string submit =
      "#!/bin/bash\n# Submits the array, then the summary job that waits for all of it (afterok).\n"
      "set -euo pipefail\ncd \"$(dirname \"$0\")\"\n"
      "array=$(sbatch --parsable array.sbatch)\narray=${array%%;*}\n"
      "summary=$(sbatch --parsable --dependency=afterok:\"$array\" summary.sbatch)\nsummary=${summary%%;*}\n"
      "echo \"array job $array (" + std::to_string(points.size()) + " tasks), summary job $summary\"\n";
  std::string manifest = "# index\tpoint\trun folder\tcommands (from scratch; finished steps are skipped)\n";
  for (const auto& p : points) {
    std::vector<std::string> cmds;
    for (const auto& c : point_commands(s, p, pelab)) cmds.push_back(shell_command(c));
    manifest += std::to_string(p.index) + "\t" + p.name + "\t" + absolute(p.dir) + "\t" + join(cmds, " && ") + "\n";
  }
  const fs::path d(dir);
  write_text_atomic((d / "array.sbatch").string(), array);
  write_text_atomic((d / "summary.sbatch").string(), summary);
  write_text_atomic((d / "submit.sh").string(), submit);
  write_text_atomic((d / "manifest.tsv").string(), manifest);
  for (const char* f : {"array.sbatch", "summary.sbatch", "submit.sh"})
    fs::permissions(d / f, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
  std::printf("wrote %s/{array.sbatch,summary.sbatch,submit.sh,manifest.tsv}: %zu array tasks, %lld at once; "
              "submit with: bash %s/submit.sh\n",
              dir.c_str(), points.size(), max_parallel, dir.c_str());
}

}  // namespace

int run_sweep_command(Context& ctx) {
  PELAB_CHECK(ctx.has("config"), "missing --config", "name the sweep file, e.g. --config experiments/sweeps/encodings-tiny.ini");
  const std::string file = ctx.str("config");
  Sweep s = read_sweep_file(file);
  if (ctx.has("out")) s.out = ctx.str("out");  // the sweep's `runs` folder, when it names one, stays
  apply_seeds_option(ctx, s);
  check_sweep_options(s);
  const auto points = sweep_points(s);
  const int threads = resolve_threads(ctx.integer("threads"));
  const long long jobs = ctx.integer("jobs");
  PELAB_CHECK(jobs >= 1 && jobs <= 1024, "--jobs must be in [1, 1024], got " << jobs, "e.g. --jobs 2");
  const int modes = ctx.flag("dry-run") + ctx.has("point") + ctx.flag("summarize") + ctx.has("emit-slurm");
  PELAB_CHECK(modes <= 1, "--dry-run, --point, --summarize and --emit-slurm exclude each other", "give one of them");

  if (ctx.flag("dry-run")) {
    const std::string shown = ctx.argv()[0];
    for (const auto& p : points) {
      std::vector<std::string> cmds;
      for (const auto& c : point_commands(s, p, shown)) cmds.push_back(shell_command(c));
      std::printf("%d %s: %s\n", p.index, p.name.c_str(), join(cmds, " && ").c_str());
    }
    for (const auto& b : s.benches)
      std::printf("bench %s: %s > %s\n", b.label.c_str(), shell_command(bench_command(b, shown)).c_str(),
                  bench_file(s, b).c_str());
    return 0;
  }
  if (ctx.has("emit-slurm")) {
    emit_slurm(ctx, s, file, ctx.str("emit-slurm"));
    return 0;
  }
  if (ctx.flag("summarize")) {
    const auto results = summarize_sweep(s, ctx.command_line());
    std::fputs(summary_markdown(s, results).c_str(), stdout);
    std::printf("\nwrote %s/summary.h5 and summary.md\n", s.out.c_str());
    return 0;
  }
  if (ctx.has("point")) {
    const long long k = parse_int(ctx.str("point"), "--point");
    PELAB_CHECK(k >= 0 && k < static_cast<long long>(points.size()),
                "--point " << k << " is not a point of this sweep (it has " << points.size() << ": 0.."
                           << points.size() - 1 << ")",
                "pelab sweep --config " << file << " --dry-run lists them");
    std::string failed;
    // An array task waits for a point another process runs: the summary job needs it done.
    const int rc = run_point(s, points[k], self_executable(), threads, &failed, /*wait=*/true);
    if (rc != 0) {
      std::fprintf(stderr, "pelab: error: point %lld (%s) failed with exit status %d: %s; see %s/logs/%s.log\n", k,
                   points[k].name.c_str(), rc, failed.c_str(), s.out.c_str(), points[k].name.c_str());
      return kExitFailure;
    }
    std::fprintf(stderr, "sweep %s: point %lld (%s) done\n", s.name.c_str(), k, points[k].name.c_str());
    return 0;
  }
  std::fprintf(stderr, "sweep %s: %zu point(s) into %s, %lld at once, %d threads\n", s.name.c_str(), points.size(),
               s.out.c_str(), jobs, threads);
  const SweepRun run = execute_sweep(s, static_cast<int>(jobs), threads, ctx.flag("wait"));
  const auto& failures = run.failed;
  if (run.running_elsewhere.empty()) {
    const auto results = summarize_sweep(s, ctx.command_line());
    std::fputs(summary_markdown(s, results).c_str(), stdout);
    std::printf("\nwrote %s/summary.h5 and summary.md\n", s.out.c_str());
  } else {
    std::printf("sweep %s: %zu point(s) running elsewhere (%s): no summary yet; rerun with --wait, or --summarize "
                "once they are done\n",
                s.name.c_str(), run.running_elsewhere.size(), join(run.running_elsewhere, ", ").c_str());
  }
  PELAB_CHECK(failures.empty(), failures.size() << " point(s) failed: " << join(failures, ", "),
              "see " << s.out << "/logs/<point>.log; rerun the same command to retry them (finished steps are skipped)");
  return 0;
}

}  // namespace pelab::cli
