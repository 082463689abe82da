// `pelab reproduce`: paper claims as runnable checks (experiments/claim.h,
// docs/claims.md). Runs a claim's sweep at a budget (reusing finished runs,
// waiting for points another process runs), summarizes it, evaluates the
// claim's check and prints PASS, FAIL or INCONCLUSIVE with each comparison's
// difference and interval beside the paper's numbers; verdicts also go to
// <out>/verdicts.md, and with --json one object on the last line.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <algorithm>
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
   ("seeds", po::value<std::string>(), "train every point with train.seed = 1..N (overrides the claim's seeds = N)")
   ("json", po::bool_switch(), "print one JSON object per claim, the last line: claim, budget, seeds, verdict, comparisons")
   ("dry-run", po::bool_switch(), "list each claim's points and commands; run nothing");
}

namespace {

struct Outcome {
  std::string claim, budget, verdict, detail;
};

std::string indent(const std::string& text) {
  std::string out = "  ";
  for (char ch : text) {
    out += ch;
    if (ch == '\n') out += "  ";
  }
  return out;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '|') c = ' ';
  return s;
}

// verdicts.md: every claim's latest verdict at each budget found under `out`.
void write_verdicts(const std::string& out, const std::vector<Claim>& claims) {
  std::string md = "# Verdicts\n\nWritten by `pelab reproduce`; each row is the latest run of that claim and budget "
                   "(its folder holds verdict.md with the details). Each comparison: outcome, the difference (ln ppl for "
                   "perplexities) and its 95% interval.\n\n| claim | budget | seeds | verdict | comparisons |\n"
                   "|---|---|---|---|---|\n";
  for (const auto& c : claims)
    for (const char* budget : {"quick", "full"}) {
      const fs::path row = fs::path(out) / c.name / budget / "verdict.row";
      if (fs::exists(row)) md += read_text(row.string(), "verdict row");
    }
  write_text_atomic((fs::path(out) / "verdicts.md").string(), md);
}

// verdicts.md lists the shipped claims and a claim file just run.
std::vector<Claim> read_claims_or_none(const std::string& dir, const std::vector<Claim>& extra) {
  std::vector<Claim> all;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) all = read_claims(dir);
  for (const auto& c : extra)
    if (std::none_of(all.begin(), all.end(), [&](const Claim& x) { return x.name == c.name; })) all.push_back(c);
  return all;
}

Sweep claim_sweep(const Claim& c, const std::string& budget, const Context& ctx) {
  Sweep s = budget == "quick" ? c.quick : c.full;
  s.out = (fs::path(ctx.str("out")) / c.name / budget).string();  // a claim's own `runs` folder stays
  apply_seeds_option(ctx, s);
  check_sweep_options(s);
  return s;
}

// A verdict row's short form: each comparison's outcome and difference.
std::string short_detail(const Verdict& v) {
  std::vector<std::string> parts;
  for (const auto& c : v.comparisons) {
    if (c.kind == "require") {
      parts.push_back(std::string("gate ") + (c.gate_met ? "met" : "not met"));
      continue;
    }
    char buf[160];
    if (std::isnan(c.ci.lo)) std::snprintf(buf, sizeof buf, "%s %+.3g (no interval)", stats::to_string(c.outcome), c.diff);
    else std::snprintf(buf, sizeof buf, "%s %+.3g [%+.3g, %+.3g]", stats::to_string(c.outcome), c.diff, c.ci.lo, c.ci.hi);
    parts.push_back(buf);
  }
  return join(parts, "; ");
}

Outcome reproduce_one(const Claim& c, const std::string& budget, const Context& ctx, int jobs, int threads,
                      std::string* json) {
  const Sweep s = claim_sweep(c, budget, ctx);
  const int seeds = seed_count(s);
  std::fprintf(stderr, "reproduce %s (%s, %d seed%s): %zu point(s) into %s\n", c.name.c_str(), budget.c_str(), seeds,
               seeds == 1 ? "" : "s", sweep_points(s).size(), s.out.c_str());
  // A claim needs every point: it waits for those another process runs.
  const SweepRun run = execute_sweep(s, jobs, threads, /*wait=*/true);
  const auto results = summarize_sweep(s, ctx.command_line());
  Outcome o{c.name, budget, "", ""};
  std::string row;
  Verdict v;
  v.seeds = seeds;
  if (!run.failed.empty()) {
    o.verdict = "ERROR";
    o.detail = std::to_string(run.failed.size()) + " point(s) failed: " + join(run.failed, ", ") + " (see " + s.out + "/logs)";
    row = o.detail;
  } else {
    try {
      v = evaluate_check(c.check, results, collect_bench(s));
      v.seeds = seeds;  // the recipe's, as the header says
      o.verdict = v.verdict;
      o.detail = v.detail;
      row = short_detail(v);
    } catch (const Error& e) {
      o.verdict = "ERROR";
      o.detail = e.user_line();
      row = o.detail;
    }
  }
  if (o.verdict == "ERROR") v.verdict = "ERROR";
  *json = verdict_json(c.name, budget, v);
  const std::string one_seed =
      seeds == 1 ? "\n- with one seed every interval covers evaluation noise only (the spread between trainings is "
                   "not in it); give --seeds N for more"
                 : "";
  const std::string block = "## " + c.name + " (" + budget + ", " + std::to_string(seeds) + " seed" +
                            (seeds == 1 ? "" : "s") + "): " + o.verdict + "\n\n" + "- paper: " + c.paper +
                            "\n- claim: " + c.statement + "\n- check: `" + c.check + "`" +
                            (c.check_means.empty() ? "" : " (" + c.check_means + ")") + "\n- ours:\n" +
                            indent(o.detail) + one_seed + "\n- paper's numbers: " + c.paper_numbers +
                            "\n- runs: " + (s.runs.empty() ? s.out : s.runs) + " (summary: " + s.out + "/summary.md)\n";
  write_text_atomic((fs::path(s.out) / "verdict.md").string(), block);
  write_text_atomic((fs::path(s.out) / "verdict.row").string(),
                    "| " + c.name + " | " + budget + " | " + std::to_string(seeds) + " | " + o.verdict + " | " +
                        one_line(row) + " |\n");
  std::printf("\n%s", block.c_str());
  std::fflush(stdout);
  return o;
}

}  // namespace

int run_reproduce(Context& ctx) {
  std::vector<Claim> claims;
  // A claim file of one's own: pelab reproduce path/to/claim.ini.
  const bool file = ctx.has("name") && ctx.str("name").size() > 4 &&
                    ctx.str("name").compare(ctx.str("name").size() - 4, 4, ".ini") == 0;
  if (file) {
    std::error_code ec;
    PELAB_CHECK(fs::is_regular_file(ctx.str("name"), ec), "no claim file '" << ctx.str("name") << "'",
                "give the path of a claim file (docs/claims.md has the format), or a claim's name");
    claims.push_back(read_claim_file(ctx.str("name")));
  } else {
    claims = read_claims(ctx.str("claims"));
  }
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
    if (file || name == "all" || c.name == name) chosen.push_back(&c);
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
      const Sweep s = claim_sweep(*c, budget, ctx);
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
  std::vector<std::string> json;
  for (const Claim* c : chosen) {
    json.emplace_back();
    outcomes.push_back(reproduce_one(*c, budget, ctx, static_cast<int>(jobs), threads, &json.back()));
  }
  write_verdicts(ctx.str("out"), file ? read_claims_or_none(ctx.str("claims"), claims) : claims);
  std::printf("\n%-28s %-6s %s\n", "claim", "budget", "verdict");
  bool errors = false;
  for (const auto& o : outcomes) {
    std::printf("%-28s %-6s %s\n", o.claim.c_str(), o.budget.c_str(), o.verdict.c_str());
    errors = errors || o.verdict == "ERROR";
  }
  std::printf("verdicts: %s/verdicts.md\n", ctx.str("out").c_str());
  if (ctx.flag("json"))
    for (const auto& j : json) std::printf("%s\n", j.c_str());
  std::fflush(stdout);
  PELAB_CHECK(!errors, "some claims could not be checked (ERROR above)",
              "see their logs; rerun the same command to retry (finished runs are reused)");
  return 0;
}

}  // namespace pelab::cli
