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

struct Chain {  // a op b op c ...
  std::vector<std::unique_ptr<Node>> operands;
  std::vector<std::string> ops;
};

const std::set<std::string> kMetrics = {"bench", "ppl",  "probe",      "val_loss",      "train_loss", "param_norm",
                                        "resolution",  "oscillation", "diagonal_mass", "asymmetry"};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  std::vector<Chain> parse() {
    std::vector<Chain> chains;
    chains.push_back(chain());
    while (word("and")) chains.push_back(chain());
    skip();
    if (i_ != s_.size()) fail("unexpected '" + s_.substr(i_, 12) + "'");
    return chains;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("check '" + s_ + "': " + what + " at character " + std::to_string(i_ + 1),
                "a check is comparisons of metrics and numbers, e.g. ppl(pe=rope, eval=nonoverlap, L=4T) < 2 * "
                "ppl(pe=rope, eval=nonoverlap, L=1T)");
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool word(const char* w) {
    skip();
    const size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) == 0 && (i_ + n == s_.size() || std::isspace(static_cast<unsigned char>(s_[i_ + n])))) {
      i_ += n;
      return true;
    }
    return false;
  }
  Chain chain() {
    Chain c;
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
    return c;
  }
  std::unique_ptr<Node> sum() {
    const size_t start = i_;
    auto n = product();
    for (skip(); i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'); skip()) {
      const char op = s_[i_++];
      n = binary(op, std::move(n), product(), start);
    }
    return n;
  }
  std::unique_ptr<Node> product() {
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
      skip();
      if (i_ >= s_.size() || s_[i_] != ')') fail("expected ')'");
      ++i_;
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

double mean_finite(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / n : std::nan("");
}

// The metric's own arguments; the others select points.
const std::set<std::string> kMetricArgs = {"eval", "protocol", "L", "analyze", "at", "range"};

class Evaluator {
 public:
  Evaluator(const std::vector<PointResult>& r, const BenchRows& bench) : results_(r), bench_(bench) {}

  double value(const Node& n, std::string* detail) {
    switch (n.kind) {
      case Node::NUMBER: return n.number;
      case Node::BINARY: {
        const double a = value(*n.lhs, detail), b = value(*n.rhs, detail);
        switch (n.op) {
          case '+': return a + b;
          case '-': return a - b;
          case '*': return a * b;
          default: return a / b;
        }
      }
      case Node::METRIC: break;
    }
    if (n.name == "bench") return bench_value(n, detail);
    std::map<std::string, std::string> own;
    Args selectors;
    for (const auto& [k, v] : n.args) {
      if (kMetricArgs.count(k)) own[k] = v;
      else selectors.emplace_back(k, v);
    }
    std::vector<double> values;
    std::vector<std::string> names;
    for (const auto& r : results_) {
      bool match = true;
      for (const auto& [k, v] : selectors) {
        auto it = std::find_if(r.point.settings.begin(), r.point.settings.end(),
                               [&](const auto& kv) { return kv.first == k; });
        if (it == r.point.settings.end() || !same_text_or_number(it->second, v)) match = false;
      }
      if (!match) continue;
      names.push_back(r.point.name);
      values.push_back(point_value(n, own, r));
    }
    PELAB_CHECK(!values.empty(), "check: no point of the sweep matches " << n.text,
                "the selector's keys must be axes of the claim's sweep, with one of their values");
    const double m = mean_finite(values);
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    char buf[160];
    if (values.size() > 1)
      std::snprintf(buf, sizeof buf, "%.4g (mean of %zu: %.4g..%.4g)", m, values.size(), *lo, *hi);
    else
      std::snprintf(buf, sizeof buf, "%.4g", m);
    if (detail) *detail += (detail->empty() ? "" : "; ") + n.text + " = " + buf;
    return m;
  }

 private:
  [[noreturn]] static void missing(const Node& n, const PointResult& r, const std::string& what) {
    throw Error("check: " + n.text + ": point " + r.point.name + " has " + what,
                "run the claim's sweep to the end (pelab reproduce reruns what is missing)");
  }
  static std::string need(const Node& n, const std::map<std::string, std::string>& own, const std::string& key) {
    auto it = own.find(key);
    PELAB_CHECK(it != own.end(), "check: " << n.text << " needs " << key << "=...", "add it to the metric's arguments");
    return it->second;
  }
  static int64_t length_arg(const Node& n, const std::string& v, const PointResult& r) {
    if (!v.empty() && v.back() == 'T') return parse_int(v.substr(0, v.size() - 1), n.text + " L") * r.train_len;
    return parse_int(v, n.text + " L");
  }

  double point_value(const Node& n, const std::map<std::string, std::string>& own, const PointResult& r) const {
    if (!r.trained) missing(n, r, "not been trained");
    const std::string& m = n.name;
    if (m == "val_loss") return r.val_loss;
    if (m == "train_loss") return r.train_loss;
    if (m == "param_norm") return r.param_norm;
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
      const int64_t L = length_arg(n, need(n, own, "L"), r);
      for (size_t i = 0; i < it->second.lengths.size(); ++i)
        if (it->second.lengths[i] == L) return it->second.ppl[i];
      missing(n, r, "no perplexity at L = " + std::to_string(L) + " under /eval/" + key);
    }
    if (m == "probe") {
      const std::string label = need(n, own, "eval");
      auto it = r.probe.find(label);
      if (it == r.probe.end()) missing(n, r, "no probe under /eval/" + label);
      const ProbeGrid& p = it->second;
      if (!own.count("L")) return mean_finite(p.accuracy);
      const int64_t L = length_arg(n, own.at("L"), r);
      for (size_t i = 0; i < p.lengths.size(); ++i)
        if (p.lengths[i] == L)
          return mean_finite({p.accuracy.begin() + i * p.depths.size(), p.accuracy.begin() + (i + 1) * p.depths.size()});
      missing(n, r, "no probe at L = " + std::to_string(L) + " under /eval/" + label);
    }
    const std::string label = need(n, own, "analyze");
    auto it = r.analyze.find(label);
    if (it == r.analyze.end()) missing(n, r, "no analysis under /analyze/" + label);
    const AnalyzeIndices& a = it->second;
    if (m == "resolution") {
      const std::string at = need(n, own, "at");
      PELAB_CHECK(at == "T" || at == "L", "check: " << n.text << ": at must be T or L", "at=T: within the training "
                  "length; at=L: over the analyzed length");
      return mean_finite(at == "T" ? a.resolution_at_train_len : a.resolution_at_length);
    }
    if (m == "oscillation") {
      const std::string range = need(n, own, "range");
      PELAB_CHECK(range == "within" || range == "beyond", "check: " << n.text << ": range must be within or beyond", "");
      return mean_finite(range == "within" ? a.oscillation_within : a.oscillation_beyond);
    }
    if (m == "diagonal_mass") return mean_finite(a.diagonal_mass);
    return mean_finite(a.score_asymmetry);
  }

  // bench(label=L, value=FIELD, field=value, ...): FIELD of the rows of
  // benchmark L whose fields match, averaged.
  double bench_value(const Node& n, std::string* detail) const {
    std::string label, field;
    Args selectors;
    for (const auto& [k, v] : n.args) {
      if (k == "label") label = v;
      else if (k == "value") field = v;
      else selectors.emplace_back(k, v);
    }
    PELAB_CHECK(!label.empty() && !field.empty(), "check: " << n.text << " needs label=... and value=...",
                "e.g. bench(label=flash, value=gflops, seq=4096)");
    auto it = bench_.find(label);
    PELAB_CHECK(it != bench_.end(), "check: " << n.text << ": benchmark '" << label << "' has no results",
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
      values.push_back(f->second == "null" ? std::nan("") : parse_double(f->second, n.text + " " + field));
    }
    PELAB_CHECK(!values.empty(), "check: no row of benchmark '" << label << "' matches " << n.text,
                "the selectors are fields of its JSON lines (impl, seq, pass, ...) with one of their values");
    const double m = mean_finite(values);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", m);
    if (detail) *detail += (detail->empty() ? "" : "; ") + n.text + " = " + buf;
    return m;
  }

  const std::vector<PointResult>& results_;
  const BenchRows& bench_;
};

}  // namespace

void parse_check(const std::string& check) { Parser(check).parse(); }

Verdict evaluate_check(const std::string& check, const std::vector<PointResult>& results, const BenchRows& bench) {
  const std::vector<Chain> chains = Parser(check).parse();
  Evaluator ev(results, bench);
  Verdict v;
  v.pass = true;
  std::vector<std::string> parts;
  for (const auto& c : chains) {
    std::vector<double> x;
    std::string text;
    for (size_t i = 0; i < c.operands.size(); ++i) {
      std::string d;
      x.push_back(ev.value(*c.operands[i], &d));
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.4g", x.back());
      const bool is_number = c.operands[i]->kind == Node::NUMBER;
      const bool one_metric = c.operands[i]->kind == Node::METRIC;
      text += (i ? " " + c.ops[i - 1] + " " : "") +
              (is_number ? c.operands[i]->text
                         : one_metric ? d : "[" + d + "] " + c.operands[i]->text + " = " + buf);
    }
    bool ok = true;
    for (size_t i = 0; i < c.ops.size(); ++i) {
      const std::string& op = c.ops[i];
      const double a = x[i], b = x[i + 1];
      ok = ok && std::isfinite(a) && std::isfinite(b) &&
           (op == "<" ? a < b : op == "<=" ? a <= b : op == ">" ? a > b : a >= b);
    }
    v.pass = v.pass && ok;
    parts.push_back(text + (ok ? "  (holds)" : "  (fails)"));
  }
  v.detail = join(parts, "\n  and ");
  return v;
}

}  // namespace pelab
