#include "experiments/claim.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "core/json_line.h"
#include "core/files.h"
#include "core/ini.h"
#include "core/strings.h"

namespace pelab {

namespace fs = std::filesystem;

Claim read_claim_file(const std::string& path) {
  const std::string source = "claim file '" + path + "'";
  const auto entries = parse_ini(read_text(path, "claim file"), source);
  Claim c;
  c.source = path;
  std::vector<IniEntry> sweeps;
  for (const auto& e : entries) {
    const std::string& k = e.key;
    if (k == "claim.name") c.name = e.value;
    else if (k == "claim.paper") c.paper = e.value;
    else if (k == "claim.statement") c.statement = e.value;
    else if (k == "claim.paper-numbers") c.paper_numbers = e.value;
    else if (k == "claim.check") c.check = e.value;
    else if (k == "claim.check-means") c.check_means = e.value;
    else if (k == "claim.notes") c.notes = e.value;
    else if (k.rfind("quick.", 0) == 0 || k.rfind("full.", 0) == 0) sweeps.push_back(e);
    else
      throw Error(source + " line " + std::to_string(e.line) + ": unknown key '" + k + "'",
                  "a claim has [claim] name/paper/statement/paper-numbers/check/check-means/notes and the sweeps "
                  "[quick.sweep], [quick.axes], ... and [full.*]");
  }
  PELAB_CHECK(!c.name.empty() && !c.paper.empty() && !c.statement.empty() && !c.check.empty(),
              source << " lacks one of [claim] name, paper, statement, check", "add it");
  parse_check(c.check);
  c.quick = parse_sweep(sweeps, "quick.", source);
  c.full = parse_sweep(sweeps, "full.", source);
  return c;
}

std::vector<Claim> read_claims(const std::string& dir) {
  std::vector<Claim> out;
  std::error_code ec;
  PELAB_CHECK(fs::is_directory(dir, ec), "no claims folder '" << dir << "'",
              "run pelab from the project root (claims live in experiments/claims) or pass --claims DIR");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".ini") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out.push_back(read_claim_file(f));
  std::sort(out.begin(), out.end(), [](const Claim& a, const Claim& b) { return a.name < b.name; });
  return out;
}

// ------------------------------------------------------------------ checks

namespace {

using Args = std::vector<std::pair<std::string, std::string>>;

struct Node {
  enum Kind { NUMBER, METRIC, BINARY } kind = NUMBER;
  double number = 0;
  std::string name;  // metric name
  Args args;
  char op = 0;
  std::unique_ptr<Node> lhs, rhs;
  std::string text;  // source text, for the verdict
};

struct Clause {
  enum Kind { COMPARE, EQUIV, REQUIRE } kind = COMPARE;
  std::vector<std::unique_ptr<Node>> operands;  // a op b op c ...
  std::vector<std::string> ops;
  bool has_delta = false;
  double delta = 0;  // `by D`; equiv: the margin
  std::string text;
};

const std::set<std::string> kMetrics = {"bench", "ppl",  "probe",      "val_loss",      "train_loss", "param_norm",
                                        "resolution",  "oscillation", "diagonal_mass", "asymmetry"};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  std::vector<Clause> parse() {
    std::vector<Clause> clauses;
    clauses.push_back(clause());
    while (word("and")) clauses.push_back(clause());
    skip();
    if (i_ != s_.size()) fail("unexpected '" + s_.substr(i_, 12) + "'");
    return clauses;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("check '" + s_ + "': " + what + " at character " + std::to_string(i_ + 1),
                "a check is comparisons of metrics and numbers joined by `and`, e.g. ppl(pe=rope, eval=nonoverlap, "
                "L=4T) > ppl(pe=alibi, eval=nonoverlap, L=4T) by 0.05; equiv(a, b, margin=0.02); require a >= 0.8");
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool word(const char* w) {
    skip();
    const size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) == 0 && (i_ + n == s_.size() || !std::isalnum(static_cast<unsigned char>(s_[i_ + n])))) {
      i_ += n;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    skip();
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected ") + what);
    ++i_;
  }
  double number(const char* what) {
    skip();
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s_.substr(i_), &used);
    } catch (const std::exception&) {
      fail(std::string(what) + " must be a number");
    }
    if (!std::isfinite(v) || v < 0) fail(std::string(what) + " must be a finite number >= 0");
    i_ += used;
    return v;
  }
  Clause clause() {
    skip();
    const size_t start = i_;
    Clause c;
    if (word("equiv")) {
      c.kind = Clause::EQUIV;
      expect('(', "'(' after equiv");
      c.operands.push_back(sum());
      expect(',', "',' between equiv's two sides");
      c.operands.push_back(sum());
      expect(',', "', margin=M' closing equiv");
      if (!word("margin")) fail("expected margin=M in equiv");
      expect('=', "'=' after margin");
      c.has_delta = true;
      c.delta = number("equiv's margin");
      expect(')', "')' closing equiv");
      c.ops = {"~"};
    } else {
      if (word("require")) c.kind = Clause::REQUIRE;
      c.operands.push_back(sum());
      for (;;) {
        skip();
        std::string op;
        if (s_.compare(i_, 2, "<=") == 0 || s_.compare(i_, 2, ">=") == 0) op = s_.substr(i_, 2);
        else if (i_ < s_.size() && (s_[i_] == '<' || s_[i_] == '>')) op = s_.substr(i_, 1);
        if (op.empty()) break;
        i_ += op.size();
        c.ops.push_back(op);
        c.operands.push_back(sum());
      }
      if (c.ops.empty()) fail("expected a comparison (<, <=, >, >=)");
      if (word("by")) {
        if (c.kind == Clause::REQUIRE) fail("a require is a gate on point estimates and takes no `by`");
        c.has_delta = true;
        c.delta = number("the minimum effect after `by`");
      }
    }
    c.text = trim(s_.substr(start, i_ - start));
    return c;
  }
  std::unique_ptr<Node> sum() {
    skip();
    const size_t start = i_;
    auto n = product();
    for (skip(); i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'); skip()) {
      const char op = s_[i_++];
      n = binary(op, std::move(n), product(), start);
    }
    return n;
  }
  std::unique_ptr<Node> product() {
    skip();
    const size_t start = i_;
    auto n = atom();
    for (skip(); i_ < s_.size() && (s_[i_] == '*' || s_[i_] == '/'); skip()) {
      const char op = s_[i_++];
      n = binary(op, std::move(n), atom(), start);
    }
    return n;
  }
  std::unique_ptr<Node> binary(char op, std::unique_ptr<Node> a, std::unique_ptr<Node> b, size_t start) {
    auto n = std::make_unique<Node>();
    n->kind = Node::BINARY;
    n->op = op;
    n->lhs = std::move(a);
    n->rhs = std::move(b);
    n->text = trim(s_.substr(start, i_ - start));
    return n;
  }
  std::unique_ptr<Node> atom() {
    skip();
    const size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '(') {
      ++i_;
      auto n = sum();
      expect(')', "')'");
      n->text = s_.substr(start, i_ - start);
      return n;
    }
    if (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.')) {
      size_t used = 0;
      auto n = std::make_unique<Node>();
      try {
        n->number = std::stod(s_.substr(i_), &used);
      } catch (const std::exception&) {
        fail("bad number");
      }
      i_ += used;
      n->text = s_.substr(start, used);
      return n;
    }
    size_t j = i_;
    while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_')) ++j;
    const std::string name = s_.substr(i_, j - i_);
    if (name.empty()) fail("expected a number, a metric or '('");
    if (!kMetrics.count(name)) fail("unknown metric '" + name + "' (metrics: " + join({kMetrics.begin(), kMetrics.end()}, ", ") + ")");
    i_ = j;
    skip();
    if (i_ >= s_.size() || s_[i_] != '(') fail("expected '(' after " + name);
    const size_t close = s_.find(')', i_);
    if (close == std::string::npos) fail("expected ')' closing " + name + "(");
    auto n = std::make_unique<Node>();
    n->kind = Node::METRIC;
    n->name = name;
    const std::string inner = s_.substr(i_ + 1, close - i_ - 1);
    if (!trim(inner).empty())
      for (const auto& item : split(inner)) {
        const size_t eq = item.find('=');
        if (eq == std::string::npos) fail("argument '" + trim(item) + "' of " + name + " is not key=value");
        n->args.emplace_back(trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
        if (n->args.back().first.empty() || n->args.back().second.empty()) fail("empty key or value in " + name + "(...)");
      }
    i_ = close + 1;
    n->text = s_.substr(start, i_ - start);
    return n;
  }

  const std::string& s_;
  size_t i_ = 0;
};

// The unit of an expression: a metric's, kept through scaling by numbers and
// sums of one unit; `log` compares on the log scale (perplexities and their ratios).
struct Unit {
  std::string name;  // "" for a bare number
  bool log = false;
};

std::string metric_unit(const Node& n) {
  if (n.name == "bench") return "bench";  // a benchmark's fields carry no units pelab knows: any compare
  if (n.name == "train_loss" || n.name == "val_loss") return "loss";
  if (n.name == "probe") return "accuracy";
  return n.name;
}

Unit unit_of(const Node& n, const std::string& clause) {
  switch (n.kind) {
    case Node::NUMBER: return {};
    case Node::METRIC: return {metric_unit(n), n.name == "ppl"};
    case Node::BINARY: break;
  }
  const Unit a = unit_of(*n.lhs, clause), b = unit_of(*n.rhs, clause);
  if (a.name.empty()) return b;
  if (b.name.empty()) return a;
  PELAB_CHECK(a.name == b.name, "check: '" << n.text << "' in '" << clause << "' mixes units (" << a.name << " and "
                                           << b.name << ")",
              "compare like with like: a metric with the same metric, or with a number");
  if (n.op == '/') return {a.name + " ratio", a.log};
  PELAB_CHECK(n.op != '*', "check: '" << n.text << "' multiplies two " << a.name << " values",
              "scale a metric by numbers only");
  return a;
}

Unit comparison_unit(const Node& a, const Node& b, const std::string& clause) {
  const Unit ua = unit_of(a, clause), ub = unit_of(b, clause);
  PELAB_CHECK(ua.name.empty() || ub.name.empty() || ua.name == ub.name,
              "check: '" << clause << "' compares " << ua.name << " with " << ub.name << ": different units",
              "compare like with like: a metric with the same metric, or with a number");
  const Unit u = ua.name.empty() ? ub : ua;
  PELAB_CHECK(!u.name.empty(), "check: '" << clause << "' compares numbers only", "compare metrics of the sweep");
  return u;
}

// The metric's own arguments; the others select points.
const std::set<std::string> kMetricArgs = {"eval", "protocol", "L", "analyze", "at", "range"};

// A matched point's value of a metric, with what an interval resamples: a
// perplexity's windows (text blocks), a probe's trials.
struct Leaf {
  const PointResult* point = nullptr;
  double value = 0;
  const EvalWindows* windows = nullptr;  // ppl
  std::string checksum;
  int64_t block = 0;                     // ppl: the eval's longest length, the natural block
  std::vector<double> trial_hits;        // probe: hits per trial index, over the selected cells
  double trial_cells = 0;                // probe: cells per trial index
  std::vector<double> num, den;          // per resampling unit, filled once the comparison's units are known
  bool resamplable() const { return windows != nullptr || !trial_hits.empty(); }
};

struct MetricValues {
  std::map<std::string, std::vector<Leaf>> by_seed;  // train.seed value ("" without the axis) -> points
  bool bench = false;
  double bench_value = 0;
  std::string missing_units;  // why a one-seed interval cannot be had for it ("" if it can)
  bool stale = false;         // a perplexity or probe written before per-window and per-trial values
};

std::string seed_of(const PointResult& r) {
  for (const auto& [k, v] : r.point.settings)
    if (k == "train.seed") return v;
  return "";
}

[[noreturn]] void missing(const Node& n, const PointResult& r, const std::string& what) {
  throw Error("check: " + n.text + ": point " + r.point.name + " has " + what,
              "run the claim's sweep to the end (pelab reproduce reruns what is missing)");
}
std::string need(const Node& n, const std::map<std::string, std::string>& own, const std::string& key) {
  auto it = own.find(key);
  PELAB_CHECK(it != own.end(), "check: " << n.text << " needs " << key << "=...", "add it to the metric's arguments");
  return it->second;
}
int64_t length_arg(const Node& n, const std::string& v, const PointResult& r) {
  if (!v.empty() && v.back() == 'T') return parse_int(v.substr(0, v.size() - 1), n.text + " L") * r.train_len;
  return parse_int(v, n.text + " L");
}
double finite_mean(const Node& n, const PointResult& r, const std::vector<double>& v, const std::string& what) {
  double s = 0;
  for (double x : v) {
    PELAB_CHECK(std::isfinite(x), "check: " << n.text << ": point " << r.point.name << " (" << r.point.dir << ") has a "
                                            << (std::isnan(x) ? "NaN" : "infinite") << " " << what,
                "a diverged or broken run decides nothing: fix or retrain it (pelab train --resume " << r.point.dir
                                                                                            << ") before the check");
    s += x;
  }
  return v.empty() ? std::nan("") : s / static_cast<double>(v.size());
}

Leaf point_leaf(const Node& n, const std::map<std::string, std::string>& own, const PointResult& r) {
  if (!r.trained) missing(n, r, "not been trained");
  Leaf leaf;
  leaf.point = &r;
  const std::string& m = n.name;
  auto scalar = [&](double x, const char* what) {
    leaf.value = finite_mean(n, r, {x}, what);
    return leaf;
  };
  if (m == "val_loss") return scalar(r.val_loss, "validation loss");
  if (m == "train_loss") return scalar(r.train_loss, "training loss");
  if (m == "param_norm") return scalar(r.param_norm, "parameter norm");
  if (m == "ppl") {
    const std::string label = need(n, own, "eval");
    std::string key;
    if (own.count("protocol")) {
      key = label + "/" + own.at("protocol");
    } else {
      for (const auto& [k, c] : r.eval)
        if (k.rfind(label + "/", 0) == 0) {
          PELAB_CHECK(key.empty(), "check: " << n.text << ": eval label " << label << " has several protocols",
                      "add protocol=nonoverlap or protocol=sliding");
          key = k;
        }
    }
    auto it = r.eval.find(key);
    if (it == r.eval.end()) missing(n, r, "no perplexity under /eval/" + label);
    const EvalCurve& c = it->second;
    const int64_t L = length_arg(n, need(n, own, "L"), r);
    for (size_t i = 0; i < c.lengths.size(); ++i)
      if (c.lengths[i] == L) {
        leaf.value = finite_mean(n, r, {c.ppl[i]}, "perplexity at L = " + std::to_string(L));
        if (i < c.windows.size()) leaf.windows = &c.windows[i];
        leaf.checksum = c.checksum;
        leaf.block = c.lengths.back();
        return leaf;
      }
    missing(n, r, "no perplexity at L = " + std::to_string(L) + " under /eval/" + key);
  }
  if (m == "probe") {
    const std::string label = need(n, own, "eval");
    auto it = r.probe.find(label);
    if (it == r.probe.end()) missing(n, r, "no probe under /eval/" + label);
    const ProbeGrid& p = it->second;
    const size_t cols = p.depths.size();
    std::vector<size_t> rows;
    if (!own.count("L")) {
      for (size_t i = 0; i < p.lengths.size(); ++i) rows.push_back(i);
    } else {
      const int64_t L = length_arg(n, own.at("L"), r);
      for (size_t i = 0; i < p.lengths.size(); ++i)
        if (p.lengths[i] == L) rows.push_back(i);
      if (rows.empty()) missing(n, r, "no probe at L = " + std::to_string(L) + " under /eval/" + label);
    }
    std::vector<double> cells;
    for (size_t i : rows)
      for (size_t c = 0; c < cols; ++c) cells.push_back(p.accuracy[i * cols + c]);
    leaf.value = finite_mean(n, r, cells, "probe accuracy");
    if (!p.hits.empty()) {
      leaf.trial_hits.assign(p.trials, 0.0);
      for (size_t i : rows)
        for (size_t c = 0; c < cols; ++c)
          for (int64_t k = 0; k < p.trials; ++k) leaf.trial_hits[k] += p.hits[(i * cols + c) * p.trials + k];
      leaf.trial_cells = static_cast<double>(rows.size() * cols);
    }
    return leaf;
  }
  const std::string label = need(n, own, "analyze");
  auto it = r.analyze.find(label);
  if (it == r.analyze.end()) missing(n, r, "no analysis under /analyze/" + label);
  const AnalyzeIndices& a = it->second;
  if (m == "resolution") {
    const std::string at = need(n, own, "at");
    PELAB_CHECK(at == "T" || at == "L", "check: " << n.text << ": at must be T or L", "at=T: within the training "
                "length; at=L: over the analyzed length");
    leaf.value = finite_mean(n, r, at == "T" ? a.resolution_at_train_len : a.resolution_at_length, "resolution");
    return leaf;
  }
  if (m == "oscillation") {
    const std::string range = need(n, own, "range");
    PELAB_CHECK(range == "within" || range == "beyond", "check: " << n.text << ": range must be within or beyond", "");
    leaf.value = finite_mean(n, r, range == "within" ? a.oscillation_within : a.oscillation_beyond, "oscillation index");
    return leaf;
  }
  if (m == "diagonal_mass") {
    leaf.value = finite_mean(n, r, a.diagonal_mass, "diagonal mass");
    return leaf;
  }
  leaf.value = finite_mean(n, r, a.score_asymmetry, "score asymmetry");
  return leaf;
}

// bench(label=L, value=FIELD, field=value, ...): FIELD of the rows of
// benchmark L whose fields match, averaged. A benchmark is taken as measured.
double bench_value(const Node& n, const BenchRows& bench) {
  std::string label, field;
  Args selectors;
  for (const auto& [k, v] : n.args) {
    if (k == "label") label = v;
    else if (k == "value") field = v;
    else selectors.emplace_back(k, v);
  }
  PELAB_CHECK(!label.empty() && !field.empty(), "check: " << n.text << " needs label=... and value=...",
              "e.g. bench(label=flash, value=gflops, seq=4096)");
  auto it = bench.find(label);
  PELAB_CHECK(it != bench.end(), "check: " << n.text << ": benchmark '" << label << "' has no results",
              "add a [bench." << label << "] section to the sweep and run it (pelab reproduce reruns what is missing)");
  std::vector<double> values;
  for (const auto& row : it->second) {
    bool match = true;
    for (const auto& [k, v] : selectors) {
      auto f = row.find(k);
      match = match && f != row.end() && same_text_or_number(f->second, v);
    }
    if (!match) continue;
    auto f = row.find(field);
    PELAB_CHECK(f != row.end(), "check: " << n.text << ": benchmark '" << label << "' has no field '" << field << "'",
                "see its .jsonl for the fields");
    const double x = f->second == "null" ? std::nan("") : parse_double(f->second, n.text + " " + field);
    PELAB_CHECK(std::isfinite(x), "check: " << n.text << ": benchmark '" << label << "' has a non-finite " << field,
                "rerun the benchmark (delete " << label << ".jsonl under the sweep's bench folder)");
    values.push_back(x);
  }
  PELAB_CHECK(!values.empty(), "check: no row of benchmark '" << label << "' matches " << n.text,
              "the selectors are fields of its JSON lines (impl, seq, pass, ...) with one of their values");
  return stats::mean(values);
}

MetricValues metric_values(const Node& n, const std::vector<PointResult>& results, const BenchRows& bench) {
  MetricValues mv;
  if (n.name == "bench") {
    mv.bench = true;
    mv.bench_value = bench_value(n, bench);
    return mv;
  }
  std::map<std::string, std::string> own;
  Args selectors;
  for (const auto& [k, v] : n.args) {
    if (kMetricArgs.count(k)) own[k] = v;
    else selectors.emplace_back(k, v);
  }
  for (const auto& r : results) {
    bool match = true;
    for (const auto& [k, v] : selectors) {
      auto it = std::find_if(r.point.settings.begin(), r.point.settings.end(),
                             [&](const auto& kv) { return kv.first == k; });
      if (it == r.point.settings.end() || !same_text_or_number(it->second, v)) match = false;
    }
    if (match) mv.by_seed[seed_of(r)].push_back(point_leaf(n, own, r));
  }
  PELAB_CHECK(!mv.by_seed.empty(), "check: no point of the sweep matches " << n.text,
              "the selector's keys must be axes of the claim's sweep, with one of their values");
  for (const auto& [seed, leaves] : mv.by_seed)
    for (const auto& leaf : leaves)
      if (!leaf.resamplable() && mv.missing_units.empty()) {
        mv.stale = n.name == "ppl" || n.name == "probe";
        if (mv.stale)
          mv.missing_units = "the " + std::string(n.name == "ppl" ? "evaluation" : "probe") + " of point " +
                             leaf.point->point.name + " (" + leaf.point->point.dir + ") stored no per-" +
                             (n.name == "ppl" ? "window" : "trial") + " values";
        else
          mv.missing_units = n.name + " has no per-window values";
      }
  return mv;
}

// Evaluates expressions for one seed, at resampling weights (null: all units once).
class Evaluator {
 public:
  explicit Evaluator(std::map<const Node*, MetricValues>& m) : m_(m) {}
  double value(const Node& n, const std::string& seed, const std::vector<double>* w) const {
    switch (n.kind) {
      case Node::NUMBER: return n.number;
      case Node::BINARY: {
        const double a = value(*n.lhs, seed, w), b = value(*n.rhs, seed, w);
        switch (n.op) {
          case '+': return a + b;
          case '-': return a - b;
          case '*': return a * b;
          case '/': return a / b;
        }
        throw Error("internal: operator '" + std::string(1, n.op) + "'", "this is a bug in pelab");
      }
      case Node::METRIC: break;
    }
    const MetricValues& mv = m_.at(&n);
    if (mv.bench) return mv.bench_value;
    const auto& leaves = mv.by_seed.at(seed);
    const bool log = n.name == "ppl";
    double s = 0;
    for (const Leaf& leaf : leaves) {
      double x = leaf.value;
      if (w && !leaf.num.empty()) {
        double num = 0, den = 0;
        for (size_t k = 0; k < leaf.num.size(); ++k) num += (*w)[k] * leaf.num[k], den += (*w)[k] * leaf.den[k];
        x = den > 0 ? (log ? std::exp(num / den) : num / den) : x;
      }
      s += log ? std::log(x) : x;
    }
    s /= static_cast<double>(leaves.size());
    return log ? std::exp(s) : s;  // perplexities: the geometric mean
  }

 private:
  std::map<const Node*, MetricValues>& m_;
};

void metric_nodes(const Node& n, std::vector<const Node*>& out) {
  if (n.kind == Node::METRIC) out.push_back(&n);
  if (n.kind == Node::BINARY) metric_nodes(*n.lhs, out), metric_nodes(*n.rhs, out);
}

std::string fmt(double x, const char* f = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

// A side of an accuracy comparison as a proportion: its mean over seeds and
// the examples behind it (trials x cells of each seed's points), or a number.
bool proportion(const Node& side, std::map<const Node*, MetricValues>& values, size_t seeds, double* p, double* n) {
  if (side.kind == Node::NUMBER) {
    *p = side.number, *n = 0;
    return true;
  }
  if (side.kind != Node::METRIC || side.name != "probe") return false;
  double sum = 0, examples = 0, leaves = 0;
  for (const auto& [s, ls] : values.at(&side).by_seed)
    for (const Leaf& leaf : ls) {
      sum += leaf.value, leaves += 1;
      examples += leaf.trial_cells * static_cast<double>(leaf.trial_hits.size());
    }
  if (leaves == 0) return false;
  *p = sum / leaves;
  *n = examples / (leaves / static_cast<double>(seeds));  // the seed mean's examples
  return true;
}

// The standard error that Newcombe's interval (method 10) of p_a - p_b implies;
// 0 when a side is not a plain probe or number.
double newcombe_se(const Node& a, const Node& b, std::map<const Node*, MetricValues>& values, size_t seeds) {
  double pa = 0, na = 0, pb = 0, nb = 0;
  if (!proportion(a, values, seeds, &pa, &na) || !proportion(b, values, seeds, &pb, &nb)) return 0;
  auto wilson = [](double p, double n) {
    if (n < 1) return stats::Interval{p, p};  // a number: exact
    const int64_t examples = static_cast<int64_t>(std::llround(n));
    const int64_t hits = std::min(examples, std::max<int64_t>(0, std::llround(p * n)));
    return stats::wilson(hits, examples);
  };
  const stats::Interval wa = wilson(pa, na), wb = wilson(pb, nb);
  const double lo = std::sqrt((pa - wa.lo) * (pa - wa.lo) + (wb.hi - pb) * (wb.hi - pb));
  const double hi = std::sqrt((wa.hi - pa) * (wa.hi - pa) + (pb - wb.lo) * (pb - wb.lo));
  return (lo + hi) / 2 / stats::normal_quantile(0.975);
}

// Decides one comparison a op b (equiv: op "~") of a clause, up to Holm.
Comparison compare(const Clause& c, const Node& a, const std::string& op, const Node& b,
                   const std::vector<PointResult>& results, const BenchRows& bench, uint64_t seed) {
  Comparison out;
  out.kind = c.kind == Clause::EQUIV ? "equiv" : c.kind == Clause::REQUIRE ? "require" : "compare";
  out.lhs = a.text, out.op = op, out.rhs = b.text;
  const Unit u = comparison_unit(a, b, c.text);
  out.scale = u.log ? "ln " + u.name : u.name;
  out.delta = c.has_delta ? c.delta : default_min_effect(out.scale);

  std::vector<const Node*> nodes;
  metric_nodes(a, nodes), metric_nodes(b, nodes);
  std::map<const Node*, MetricValues> values;
  std::set<std::string> seeds_set;
  bool first = true, all_bench = true;
  std::string missing_units;
  bool stale = false;
  std::set<std::string> hosts;
  for (const Node* n : nodes) {
    values[n] = metric_values(*n, results, bench);
    const MetricValues& mv = values[n];
    if (mv.bench) continue;
    all_bench = false;
    std::set<std::string> mine;
    for (const auto& [s, leaves] : mv.by_seed) {
      mine.insert(s);
      for (const auto& leaf : leaves)
        if (!leaf.point->host.empty()) hosts.insert(leaf.point->host);
    }
    if (first) seeds_set = mine;
    PELAB_CHECK(mine == seeds_set, "check: '" << c.text << "': " << n->text << " has seeds {" << join({mine.begin(), mine.end()}, ",")
                                              << "}, another side {" << join({seeds_set.begin(), seeds_set.end()}, ",") << "}",
                "pair arms by seed: give every arm the same train.seed values (seeds = N)");
    first = false;
    if (missing_units.empty()) missing_units = mv.missing_units;
    stale = stale || mv.stale;
  }
  out.hosts = {hosts.begin(), hosts.end()};
  if (all_bench) seeds_set = {""};
  const std::vector<std::string> seeds(seeds_set.begin(), seeds_set.end());

  // The resampling units: text blocks of the longest evaluated length (the
  // same text for every perplexity of the comparison) or probe trial indices.
  int64_t units = 0;
  if (missing_units.empty() && !all_bench) {
    int64_t block = 0, trials = -1;
    std::string checksum;
    for (const Node* n : nodes)
      for (auto& [s, leaves] : values[n].by_seed)
        for (Leaf& leaf : leaves) {
          if (leaf.windows) {
            block = std::max(block, leaf.block);
            PELAB_CHECK(checksum.empty() || checksum == leaf.checksum,
                        "check: '" << c.text << "' compares perplexities of different texts",
                        "evaluate every arm on the same text (the same dataset split or --text)");
            checksum = leaf.checksum;
          } else if (!leaf.trial_hits.empty()) {
            PELAB_CHECK(trials < 0 || trials == static_cast<int64_t>(leaf.trial_hits.size()),
                        "check: '" << c.text << "' compares probes with different numbers of trials",
                        "give every arm's probe the same --trials");
            trials = static_cast<int64_t>(leaf.trial_hits.size());
          }
        }
    int64_t end = 0;
    for (const Node* n : nodes)
      for (auto& [s, leaves] : values[n].by_seed)
        for (const Leaf& leaf : leaves)
          if (leaf.windows)
            for (size_t i = 0; i < leaf.windows->offset.size(); ++i) end = std::max(end, leaf.windows->offset[i] + 1);
    units = block > 0 ? (end + block - 1) / block : std::max<int64_t>(trials, 0);
    for (const Node* n : nodes)
      for (auto& [s, leaves] : values[n].by_seed)
        for (Leaf& leaf : leaves) {
          leaf.num.assign(units, 0.0), leaf.den.assign(units, 0.0);
          if (leaf.windows) {
            for (size_t i = 0; i < leaf.windows->offset.size(); ++i) {
              const int64_t k = leaf.windows->offset[i] / block;
              leaf.num[k] += leaf.windows->nll[i];
              leaf.den[k] += static_cast<double>(leaf.windows->tokens[i]);
            }
          } else {
            for (int64_t k = 0; k < units; ++k) leaf.num[k] = leaf.trial_hits[k], leaf.den[k] = leaf.trial_cells;
          }
        }
  }

  const Evaluator ev(values);
  const double sign = op == "<" || op == "<=" ? -1.0 : 1.0;  // the claimed effect is positive
  auto scaled = [&](double x, const Node& side) {
    if (!u.log) return x;
    PELAB_CHECK(x > 0, "check: " << side.text << " is " << x << ", not positive, on the log scale of " << u.name,
                "perplexities and their ratios are compared as logarithms");
    return std::log(x);
  };
  auto effect = [&](const std::string& s, const std::vector<double>* w) {
    const double d = scaled(ev.value(a, s, w), a) - scaled(ev.value(b, s, w), b);
    return out.kind == "equiv" ? d : sign * d;
  };
  std::vector<double> per_seed, la, lb;
  for (const auto& s : seeds) {
    per_seed.push_back(effect(s, nullptr));
    la.push_back(scaled(ev.value(a, s, nullptr), a));
    lb.push_back(scaled(ev.value(b, s, nullptr), b));
  }
  out.lhs_mean = u.log ? std::exp(stats::mean(la)) : stats::mean(la);
  out.rhs_mean = u.log ? std::exp(stats::mean(lb)) : stats::mean(lb);
  out.diff = stats::mean(la) - stats::mean(lb);

  double text_se = std::nan("");
  if (units >= 2)
    text_se = stats::bootstrap_sd(units, [&](const std::vector<double>& w) {
      double m = 0;
      for (const auto& s : seeds) m += effect(s, &w);
      return m / static_cast<double>(seeds.size());
    }, 1000, seed);
  // Accuracies near 0 or 1 give a bootstrap no spread (all trials failed in
  // both arms: an interval of [0, 0]), though the truth may be several
  // percent. Newcombe's hybrid score interval of the difference (from each
  // side's Wilson interval) is the floor of the text's standard error.
  if (u.name == "accuracy" && !std::isnan(text_se)) {
    const double floor = newcombe_se(a, b, values, seeds.size());
    text_se = std::max(text_se, floor);
  }
  if (all_bench) {
    out.estimate.value = per_seed[0];
    out.estimate.se = 0;
    out.estimate.covers = "none: benchmark numbers are taken as measured";
  } else {
    PELAB_CHECK(seeds.size() > 1 || !stale || c.kind == Clause::REQUIRE,
                "check: '" << c.text << "' needs an interval from one seed, but " << missing_units,
                "rerun its evaluation with this pelab (pelab eval writes window_nll, pelab eval --probe writes "
                "probe_hits: delete the label or the run's /eval group and rerun pelab reproduce), or give the claim "
                "seeds = N");
    out.estimate = stats::seed_mean(per_seed, text_se, units);
  }
  const stats::Interval ci = out.estimate.interval();
  out.ci = out.kind == "equiv" || sign > 0 ? ci : stats::Interval{-ci.hi, -ci.lo};
  if (out.kind == "require") {
    const double e = out.estimate.value;
    out.gate_met = op == ">=" || op == "<=" ? e >= 0 : e > 0;
  }
  return out;
}

std::string signed_fmt(double x) { return (x >= 0 ? "+" : "") + fmt(x, "%.4g"); }

std::string describe(const Comparison& c, size_t holm_m) {
  std::string s;
  if (c.kind == "require") {
    s = std::string("[gate ") + (c.gate_met ? "met" : "NOT met") + "] require " + c.lhs + " " + c.op + " " + c.rhs +
        ": " + fmt(c.lhs_mean) + " vs " + fmt(c.rhs_mean) + " (point estimates)";
    return s;
  }
  s = "[" + std::string(stats::to_string(c.outcome)) + "] " +
      (c.kind == "equiv" ? "equiv(" + c.lhs + ", " + c.rhs + ", margin=" + fmt(c.delta) + ")" : c.lhs + " " + c.op + " " + c.rhs);
  s += "\n    " + fmt(c.lhs_mean) + " vs " + fmt(c.rhs_mean) + "; diff (" + c.scale + ") " + signed_fmt(c.diff);
  if (c.estimate.has_interval()) {
    s += ", 95% CI [" + signed_fmt(c.ci.lo) + ", " + signed_fmt(c.ci.hi) + "]";
    s += c.kind == "equiv" ? ", margin +-" + fmt(c.delta) : ", min effect " + fmt(c.delta);
    s += "; " + std::to_string(c.estimate.seeds) + " seed(s), covers " + c.estimate.covers;
  } else {
    s += "; no interval: " + c.estimate.why_no_interval;
  }
  if (holm_m > 1) s += "; Holm over " + std::to_string(holm_m);
  if (c.hosts.size() > 1) s += "\n    WARNING: its arms trained on different kinds of host (" + join(c.hosts, " | ") +
                               "): summation order differs like a seed";
  if (c.seeds_needed > 0)
    s += "\n    estimate: about " + std::to_string(c.seeds_needed) +
         " seeds would decide it (from the observed effect and seed spread, 80% power)";
  return s;
}

std::string json_number(double x) { return std::isfinite(x) ? fmt(x, "%.6g") : "null"; }

}  // namespace

double default_min_effect(const std::string& scale) {
  if (scale.rfind("ln ppl", 0) == 0) return 0.01;  // 1% of perplexity
  if (scale == "accuracy") return 0.05;            // 5 points of accuracy
  if (scale == "loss") return 0.01;                // 0.01 nats per byte
  return 0;
}

void parse_check(const std::string& check) {
  for (const auto& c : Parser(check).parse())
    for (size_t i = 0; i + 1 < c.operands.size(); ++i) comparison_unit(*c.operands[i], *c.operands[i + 1], c.text);
}

Verdict evaluate_check(const std::string& check, const std::vector<PointResult>& results, const BenchRows& bench) {
  const std::vector<Clause> clauses = Parser(check).parse();
  Verdict v;
  std::vector<Comparison> gates, tests;
  uint64_t seed = 1;
  for (const auto& c : clauses)
    for (size_t i = 0; i < c.ops.size(); ++i) {
      Comparison cmp = compare(c, *c.operands[i], c.ops[i], *c.operands[i + 1], results, bench, seed++);
      (c.kind == Clause::REQUIRE ? gates : tests).push_back(std::move(cmp));
    }
  std::vector<stats::PValues> p;
  std::vector<bool> has;
  for (const auto& t : tests) {
    p.push_back(t.kind == "equiv" ? stats::equivalence_test(t.estimate, t.delta)
                                  : stats::directional_test(t.estimate, t.delta));
    has.push_back(t.estimate.has_interval());
  }
  const auto outcomes = stats::decide(p, has);
  bool all_hold = !tests.empty(), any_contradicted = false, gates_met = true;
  for (size_t i = 0; i < tests.size(); ++i) {
    tests[i].outcome = outcomes[i];
    all_hold = all_hold && outcomes[i] == stats::Outcome::HOLDS;
    any_contradicted = any_contradicted || outcomes[i] == stats::Outcome::CONTRADICTED;
    if (outcomes[i] == stats::Outcome::UNDECIDED && tests[i].kind == "compare")
      tests[i].seeds_needed = stats::seeds_needed(tests[i].estimate.value, tests[i].delta, tests[i].estimate.seed_sd);
    v.seeds = std::max(v.seeds, tests[i].estimate.seeds);
  }
  for (const auto& g : gates) gates_met = gates_met && g.gate_met;
  v.verdict = !gates_met ? "INCONCLUSIVE" : all_hold ? "PASS" : any_contradicted ? "FAIL" : "INCONCLUSIVE";
  std::vector<std::string> lines;
  for (const auto& g : gates) lines.push_back(describe(g, 0));
  for (const auto& t : tests) lines.push_back(describe(t, tests.size()));
  if (!gates_met) lines.push_back("a gate is not met: the verdict is INCONCLUSIVE whatever the comparisons say");
  v.detail = "- " + join(lines, "\n- ");
  v.comparisons = std::move(gates);
  for (auto& t : tests) v.comparisons.push_back(std::move(t));
  return v;
}

std::string verdict_json(const std::string& claim, const std::string& budget, const Verdict& v) {
  std::string o = "{\"claim\": " + json_escape(claim) + ", \"budget\": " + json_escape(budget) +
                  ", \"seeds\": " + std::to_string(v.seeds) + ", \"verdict\": " + json_escape(v.verdict) +
                  ", \"comparisons\": [";
  for (size_t i = 0; i < v.comparisons.size(); ++i) {
    const Comparison& c = v.comparisons[i];
    o += (i ? ", " : "") + std::string("{\"kind\": ") + json_escape(c.kind) + ", \"lhs\": {\"expr\": " +
         json_escape(c.lhs) + ", \"mean\": " + json_number(c.lhs_mean) + "}, \"op\": " + json_escape(c.op) +
         ", \"rhs\": {\"expr\": " + json_escape(c.rhs) + ", \"mean\": " + json_number(c.rhs_mean) +
         "}, \"scale\": " + json_escape(c.scale) + ", \"diff\": " + json_number(c.diff) +
         ", \"delta\": " + json_number(c.delta) + ", \"ci\": [" + json_number(c.ci.lo) + ", " + json_number(c.ci.hi) +
         "], \"outcome\": " +
         json_escape(c.kind == "require" ? (c.gate_met ? "gate met" : "gate not met") : stats::to_string(c.outcome)) +
         ", \"seeds\": " + std::to_string(c.estimate.seeds) + ", \"seeds_needed\": " + std::to_string(c.seeds_needed) +
         ", \"covers\": " + json_escape(c.estimate.has_interval() ? c.estimate.covers : c.estimate.why_no_interval) +
         ", \"hosts\": [";
    for (size_t h = 0; h < c.hosts.size(); ++h) o += (h ? ", " : "") + json_escape(c.hosts[h]);
    o += "]}";
  }
  return o + "]}";
}

}  // namespace pelab
