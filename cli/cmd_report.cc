// `pelab report`: a markdown report with PNG + SVG plots of run, sweep and
// reproduce folders, drawn by analysis/plot.py (its `report` kind): summaries
// and verdicts as tables, training curves, perplexity vs length with loss by
// position per evaluation label, and measured-vs-theory attention per run.
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "cli/plotting.h"
#include "core/error.h"

namespace pelab::cli {

namespace fs = std::filesystem;

void report_options(po::options_description_easy_init& o) {
  o("out", po::value<std::string>(), "folder to write report.md and the figures into (created if missing; required)");
}

namespace {

// A run, or a sweep's summary (a sweep of benchmarks only has no run).
bool holds_a_run(const fs::path& folder) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() == "run.h5" || it->path().filename() == "summary.h5") return true;
  return false;
}

}  // namespace

int run_report(Context& ctx) {
  const std::vector<std::string> folders = ctx.values("folders");
  PELAB_CHECK(!folders.empty(), "name at least one run, sweep or reproduce folder",
              "e.g. pelab report runs/reproduce --out out/report");
  PELAB_CHECK(ctx.has("out"), "missing --out", "name the folder for the report, e.g. --out out/report");
  std::error_code ec;
  for (const auto& f : folders)
    PELAB_CHECK(fs::is_directory(f, ec), "'" << f << "' is not a folder",
                "pass folders written by pelab train, pelab sweep or pelab reproduce");
  for (const auto& f : folders)
    PELAB_CHECK(holds_a_run(f), "'" << f << "' holds no run.h5",
                "pass folders written by pelab train, pelab sweep or pelab reproduce");
  const std::string out = ctx.str("out");
  fs::create_directories(out, ec);
  PELAB_CHECK(fs::is_directory(out, ec), "cannot create the report folder '" << out << "'", "choose another --out");
  run_plot("report", folders[0], out, std::vector<std::string>(folders.begin() + 1, folders.end()));
  return 0;
}

}  // namespace pelab::cli
