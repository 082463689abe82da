// `pelab reproduce`: paper claims as runnable checks (experiments/claim.h,
// docs/claims.md). Runs a claim's sweep at a budget (reusing finished runs),
// summarizes it, evaluates the claim's check and prints PASS or FAIL with our
// numbers beside the paper's; verdicts also go to <out>/verdicts.md.
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/cli.h"
#include "cli/sweep_cli.h"
#include "core/error.h"
#include "core/files.h"
#include "core/process.h"
#include "core/strings.h"
#include "experiments/claim.h"

namespace pelab::cli {

namespace fs = std::filesystem;

void reproduce_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("list", po::bool_switch(), "list the claims and what each checks")
   ("budget", s("quick"), "quick (minutes on 2 cores, a reduced recipe) | full (the real recipe: hours)")
   ("out", s("runs/reproduce"), "folder of the runs: <out>/<claim>/<budget>/, verdicts in <out>/verdicts.md")
   ("claims", s("experiments/claims"), "folder of the claim files")
   ("jobs", s("1"), "points run at once; the threads are split between them")
   ("threads", s("0"), "OpenMP threads in all (0: every core)")
   ("dry-run", po::bool_switch(), "list each claim's points and commands; run nothing");
}

namespace {

struct Outcome {
  std::string claim, budget, verdict, detail;
};

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '|') c = ' ';
  return s;
}

// verdicts.md: every claim's latest verdict at each budget found under `out`.
void write_verdicts(const std::string& out, const std::vector<Claim>& claims) {
  std::string md = "# Verdicts\n\nWritten by `pelab reproduce`; each row is the latest run of that claim and budget "
                   "(its folder holds verdict.md with the details).\n\n| claim | budget | verdict | our numbers |\n"
                   "|---|---|---|---|\n";
  for (const auto& c : claims)
    for (const char* budget : {"quick", "full"}) {
      const fs::path row = fs::path(out) / c.name / budget / "verdict.row";
      if (fs::exists(row)) md += read_text(row.string(), "verdict row");
    }
  write_text_atomic((fs::path(out) / "verdicts.md").string(), md);
}

Outcome reproduce_one(const Claim& c, const std::string& budget, const Context& ctx, int jobs, int threads) {
  Sweep s = budget == "quick" ? c.quick : c.full;
  s.out = (fs::path(ctx.str("out")) / c.name / budget).string();  // a claim's own `runs` folder stays
  check_sweep_options(s);
  std::fprintf(stderr, "reproduce %s (%s): %zu point(s) into %s\n", c.name.c_str(), budget.c_str(),
               sweep_points(s).size(), s.out.c_str());
  const auto failures = execute_sweep(s, jobs, threads);
  const auto results = summarize_sweep(s, ctx.command_line());
  Outcome o{c.name, budget, "", ""};
  if (!failures.empty()) {
    o.verdict = "ERROR";
    o.detail = std::to_string(failures.size()) + " point(s) failed: " + join(failures, ", ") + " (see " + s.out + "/logs)";
  } else {
    try {
      const Verdict v = evaluate_check(c.check, results, collect_bench(s));
      o.verdict = v.pass ? "PASS" : "FAIL";
      o.detail = v.detail;
    } catch (const Error& e) {
      o.verdict = "ERROR";
      o.detail = e.user_line();
    }
  }
  const std::string block = "## " + c.name + " (" + budget + "): " + o.verdict + "\n\n" + "- paper: " + c.paper +
                            "\n- claim: " + c.statement + "\n- check: `" + c.check + "`" +
                            (c.check_means.empty() ? "" : " (" + c.check_means + ")") + "\n- ours:  " + o.detail +
                            "\n- paper's numbers: " + c.paper_numbers + "\n- runs: " + (s.runs.empty() ? s.out : s.runs) + " (summary: " + s.out + "/summary.md)\n";
  write_text_atomic((fs::path(s.out) / "verdict.md").string(), block);
  write_text_atomic((fs::path(s.out) / "verdict.row").string(),
                    "| " + c.name + " | " + budget + " | " + o.verdict + " | " + one_line(o.detail) + " |\n");
  std::printf("\n%s", block.c_str());
  std::fflush(stdout);
  return o;
}

}  // namespace

int run_reproduce(Context& ctx) {
  const std::vector<Claim> claims = read_claims(ctx.str("claims"));
  if (ctx.flag("list")) {
    for (const auto& c : claims) {
      std::printf("%-28s %s\n%-28s claim: %s\n%-28s check: %s\n\n", c.name.c_str(), c.paper.c_str(), "",
                  c.statement.c_str(), "", c.check.c_str());
    }
    return 0;
  }
  PELAB_CHECK(ctx.has("name"), "name a claim, or 'all'", "pelab reproduce --list lists them");
  const std::string budget = ctx.str("budget");
  PELAB_CHECK(budget == "quick" || budget == "full", "--budget must be quick or full, got '" << budget << "'",
              "quick runs in minutes; full is the real recipe");
  const std::string name = ctx.str("name");
  std::vector<const Claim*> chosen;
  for (const auto& c : claims)
    if (name == "all" || c.name == name) chosen.push_back(&c);
  if (chosen.empty()) {
    std::vector<std::string> names;
    for (const auto& c : claims) names.push_back(c.name);
    throw Error("no claim '" + name + "'", "choose one of: " + join(names, ", ") + ", or all");
  }
  const long long jobs = ctx.integer("jobs");
  PELAB_CHECK(jobs >= 1 && jobs <= 1024, "--jobs must be in [1, 1024], got " << jobs, "e.g. --jobs 2");
  const int threads = resolve_threads(ctx.integer("threads"));
  if (ctx.flag("dry-run")) {
    for (const Claim* c : chosen) {
      Sweep s = budget == "quick" ? c->quick : c->full;
      s.out = (fs::path(ctx.str("out")) / c->name / budget).string();  // a claim's own `runs` folder stays
      check_sweep_options(s);
      for (const auto& p : sweep_points(s)) {
        std::vector<std::string> cmds;
        for (const auto& cmd : point_commands(s, p, ctx.argv()[0])) cmds.push_back(shell_command(cmd));
        std::printf("%s %d %s: %s\n", c->name.c_str(), p.index, p.name.c_str(), join(cmds, " && ").c_str());
      }
      for (const auto& b : s.benches)
        std::printf("%s bench %s: %s > %s\n", c->name.c_str(), b.label.c_str(),
                    shell_command(bench_command(b, ctx.argv()[0])).c_str(), bench_file(s, b).c_str());
    }
    return 0;
  }
  std::vector<Outcome> outcomes;
  for (const Claim* c : chosen) outcomes.push_back(reproduce_one(*c, budget, ctx, static_cast<int>(jobs), threads));
  write_verdicts(ctx.str("out"), claims);
  std::printf("\n%-28s %-6s %s\n", "claim", "budget", "verdict");
  bool errors = false;
  for (const auto& o : outcomes) {
    std::printf("%-28s %-6s %s\n", o.claim.c_str(), o.budget.c_str(), o.verdict.c_str());
    errors = errors || o.verdict == "ERROR";
  }
  std::printf("verdicts: %s/verdicts.md\n", ctx.str("out").c_str());
  PELAB_CHECK(!errors, "some claims could not be checked (ERROR above)",
              "see their logs; rerun the same command to retry (finished runs are reused)");
  return 0;
}

}  // namespace pelab::cli
