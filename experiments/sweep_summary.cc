#include "experiments/sweep_summary.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/hdf5_file.h"
#include "core/json_line.h"
#include "core/provenance.h"
#include "core/strings.h"
#include "experiments/run_folder.h"
#include "experiments/statistics.h"

namespace pelab {

namespace fs = std::filesystem;

namespace {

const double kNaN = std::nan("");

double mean(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / n : kNaN;
}

void read_eval(const h5::Group& g, const std::string& label, PointResult& r) {
  if (g.has("probe_accuracy")) {
    ProbeGrid p;
    p.task = g.has_attr("probe") ? g.attr_string("probe") : "";
    p.lengths = g.read<int64_t>("probe_lengths");
    p.depths = g.read<double>("probe_depths");
    p.accuracy = g.read<double>("probe_accuracy");
    PELAB_CHECK(p.accuracy.size() == p.lengths.size() * p.depths.size(),
                "/eval/" << label << "/probe_accuracy has the wrong size", "rerun the probe");
    if (g.has("probe_byte_accuracy")) p.byte_accuracy = g.read<double>("probe_byte_accuracy");
    p.trials = g.has_attr("trials") ? g.attr_int("trials") : 0;
    p.seed = g.has_attr("seed") ? g.attr_int("seed") : 0;
    if (g.has("probe_hits")) {
      p.hits = g.read<int64_t>("probe_hits");
      PELAB_CHECK(p.hits.size() == p.accuracy.size() * static_cast<size_t>(p.trials),
                  "/eval/" << label << "/probe_hits has the wrong size", "rerun the probe");
    }
    r.probe[label] = std::move(p);
    return;
  }
  for (const auto& protocol : g.children()) {
    const h5::Group pg = g.open_group(protocol);
    if (!pg.has("lengths") || !pg.has("ppl")) continue;
    EvalCurve c{pg.read<int64_t>("lengths"), pg.read<double>("ppl"), "", {}};
    PELAB_CHECK(c.lengths.size() == c.ppl.size(), "/eval/" << label << "/" << protocol << " has lengths and ppl of "
                                                           "different sizes", "rerun the evaluation");
    c.checksum = g.has_attr("data_checksum") ? g.attr_string("data_checksum") : "";
    if (pg.has("window_nll"))
      for (int64_t L : c.lengths) {
        const std::string n = std::to_string(L);
        EvalWindows w{pg.read<int64_t>("window_offset/" + n), pg.read<int64_t>("window_tokens/" + n),
                      pg.read<double>("window_nll/" + n)};
        PELAB_CHECK(w.offset.size() == w.nll.size() && w.tokens.size() == w.nll.size(),
                    "/eval/" << label << "/" << protocol << "/window_* at L " << L << " differ in size", "rerun the evaluation");
        c.windows.push_back(std::move(w));
      }
    r.eval[label + "/" + protocol] = std::move(c);
  }
}

void read_analyze(const h5::Group& g, const std::string& label, PointResult& r) {
  AnalyzeIndices a;
  a.length = g.attr_int("length");
  for (int l = 0; g.has("layer" + std::to_string(l)); ++l) {
    const h5::Group lg = g.open_group("layer" + std::to_string(l));
    a.resolution_at_train_len.push_back(lg.attr_double("resolution_at_train_len"));
    a.resolution_at_length.push_back(lg.attr_double("resolution_at_length"));
    a.oscillation_within.push_back(lg.attr_double("oscillation_within_tv"));
    a.oscillation_beyond.push_back(lg.attr_double("oscillation_beyond_tv"));
    a.diagonal_mass.push_back(mean(lg.read<double>("diagonal_mass")));
    a.score_asymmetry.push_back(mean(lg.read<double>("score_asymmetry")));
  }
  r.analyze[label] = std::move(a);
}

// The results of a point's fine-tune, under "<label>:<result label>".
void read_finetune(const std::string& dir, const std::string& ft, PointResult& r) {
  if (!fs::exists(fs::path(dir) / kRunFile)) return;
  const std::string path = (fs::path(dir) / kRunFile).string();
  PointResult f;
  try {
    const h5::File file = h5::File::open_read(path);
    if (file.has("eval"))
      for (const auto& label : file.open_group("eval").children()) read_eval(file.open_group("eval/" + label), label, f);
    if (file.has("analyze"))
      for (const auto& label : file.open_group("analyze").children())
        read_analyze(file.open_group("analyze/" + label), label, f);
  } catch (const Error& e) {
    throw Error("cannot summarize '" + path + "': " + e.what(), "rerun that fine-tune, or remove its folder");
  }
  for (auto& [k, v] : f.eval) r.eval[ft + ":" + k] = std::move(v);
  for (auto& [k, v] : f.probe) r.probe[ft + ":" + k] = std::move(v);
  for (auto& [k, v] : f.analyze) r.analyze[ft + ":" + k] = std::move(v);
}

PointResult read_point(const SweepPoint& p) {
  PointResult r;
  r.point = p;
  r.train_loss = r.val_loss = r.param_norm = kNaN;
  if (!fs::exists(fs::path(p.dir) / kRunFile)) return r;
  const RunFolder folder = RunFolder::open(p.dir);
  const std::string path = folder.file(kRunFile);
  r.trained = true;
  const TrainLogs logs = folder.read_train_logs();
  try {
    const h5::File f = h5::File::open_read(path);
    r.status = f.attr_string("status");
    r.step = f.attr_int("step");
    r.train_len = f.attr_int("train_len");
    r.parameters = f.attr_int("parameters");
    if (f.has_attr("host_cpu")) r.host = f.attr_string("host_cpu") + ", " + f.attr_string("kernel_path");
    if (f.has("eval"))
      for (const auto& label : f.open_group("eval").children()) read_eval(f.open_group("eval/" + label), label, r);
    if (f.has("analyze"))
      for (const auto& label : f.open_group("analyze").children())
        read_analyze(f.open_group("analyze/" + label), label, r);
  } catch (const Error& e) {
    throw Error("cannot summarize '" + path + "': " + e.what(), "rerun that point's commands, or remove its folder");
  }
  const size_t n = logs.loss.size(), k = std::min<size_t>(n, 10);
  if (k) r.train_loss = mean(std::vector<double>(logs.loss.end() - k, logs.loss.end()));
  if (!logs.val_loss.empty()) r.val_loss = logs.val_loss.back();
  if (folder.has(kCheckpointFile)) {
    const Checkpoint ck = folder.read_checkpoint(/*optimizer_state=*/false);
    double ss = 0;
    for (float x : ck.params) ss += static_cast<double>(x) * x;
    r.param_norm = std::sqrt(ss);
  }
  return r;
}

std::string cell(double x, const char* fmt = "%.4g") {
  if (!std::isfinite(x)) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

// "mean ± half-width" of a t-interval over seeds; perplexities on the log
// scale, so the interval is [lo, hi] around the geometric mean.
std::string seed_cell(const std::vector<double>& v, bool log) {
  std::vector<double> x;
  for (double a : v)
    if (std::isfinite(a) && (!log || a > 0)) x.push_back(log ? std::log(a) : a);
  if (x.size() != v.size() || x.empty()) return "–";
  const stats::Estimate e = stats::seed_mean(x, 0.0, 0);
  if (x.size() < 2) return cell(log ? std::exp(e.value) : e.value);
  const stats::Interval ci = e.interval();
  if (log) return cell(std::exp(e.value)) + " [" + cell(std::exp(ci.lo)) + ", " + cell(std::exp(ci.hi)) + "]";
  return cell(e.value) + " ± " + cell((ci.hi - ci.lo) / 2, "%.2g");
}

// Across seeds: a row per setting of the other axes, each value with its 95%
// interval over the seeds (the seed-to-seed spread only; pelab reproduce adds
// the text's noise to paired differences).
std::string seeds_markdown(const Sweep& s, const std::vector<PointResult>& results,
                           const std::set<std::pair<std::string, int64_t>>& ppl_cols) {
  if (seed_count(s) < 2) return "";
  std::map<std::vector<std::string>, std::vector<const PointResult*>> groups;
  std::vector<std::vector<std::string>> order;
  for (const auto& r : results) {
    std::vector<std::string> key;
    for (const auto& [k, v] : r.point.settings)
      if (k != "train.seed") key.push_back(v);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&r);
  }
  std::ostringstream os;
  os << "\n## Across seeds\n\nMean over the " << seed_count(s) << " seeds (train.seed) of each setting, with the 95% "
     << "t-interval over seeds: `mean ± half-width` for losses, `geometric mean [lo, hi]` for perplexities (the "
     << "interval of ln ppl). It covers the seed-to-seed spread only.\n\n|";
  for (const auto& a : s.axes)
    if (a.key != "train.seed") os << " " << a.key << " |";
  os << " seeds | val loss |";
  for (const auto& [key, L] : ppl_cols) os << " ppl " << key << " @" << L << " |";
  os << "\n|";
  const size_t ncols = s.axes.size() - 1 + 2 + ppl_cols.size();
  for (size_t i = 0; i < ncols; ++i) os << "---|";
  os << "\n";
  for (const auto& key : order) {
    const auto& g = groups[key];
    std::vector<double> val;
    size_t trained = 0;
    for (const PointResult* r : g) {
      trained += r->trained;
      if (r->trained) val.push_back(r->val_loss);
    }
    os << "|";
    for (const auto& v : key) os << " " << v << " |";
    os << " " << trained << " | " << seed_cell(val, false) << " |";
    for (const auto& [ek, L] : ppl_cols) {
      std::vector<double> ppl;
      for (const PointResult* r : g) {
        double v = kNaN;
        if (auto it = r->eval.find(ek); it != r->eval.end())
          for (size_t i = 0; i < it->second.lengths.size(); ++i)
            if (it->second.lengths[i] == L) v = it->second.ppl[i];
        ppl.push_back(v);
      }
      os << " " << seed_cell(ppl, true) << " |";
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace

std::vector<PointResult> collect_results(const Sweep& s, const std::vector<SweepPoint>& points) {
  std::vector<PointResult> out;
  for (const auto& p : points) {
    out.push_back(read_point(p));
    if (out.back().trained)
      for (const auto& f : s.finetunes) read_finetune(finetune_dir(p, f.label), f.label, out.back());
  }
  return out;
}

std::string summary_markdown(const Sweep& s, const std::vector<PointResult>& results) {
  // Columns: axes, status, losses, then ppl at every (label/protocol, length) any point has.
  std::set<std::pair<std::string, int64_t>> ppl_cols;
  std::set<std::string> analyze_labels, probe_labels;
  for (const auto& r : results) {
    for (const auto& [key, c] : r.eval)
      for (int64_t L : c.lengths) ppl_cols.insert({key, L});
    for (const auto& [label, a] : r.analyze) analyze_labels.insert(label);
    for (const auto& [label, p] : r.probe) probe_labels.insert(label);
  }
  std::ostringstream os;
  os << "# Sweep " << s.name << "\n\n"
     << "Base config `" << s.base_config << "`, " << results.size() << " point(s) in `"
     << (s.runs.empty() ? s.out : s.runs) << "`. "
     << "Losses in nats per byte (train: mean of the last 10 logged steps; val: the last evaluation); "
     << "ppl: perplexity per byte at each evaluation length (label/protocol).\n\n|";
  for (const auto& a : s.axes) os << " " << a.key << " |";
  os << " status | step | train loss | val loss | param norm |";
  for (const auto& [key, L] : ppl_cols) os << " ppl " << key << " @" << L << " |";
  for (const auto& label : analyze_labels) os << " R(T) " << label << " | R(L) " << label << " |";
  for (const auto& label : probe_labels) os << " probe " << label << " |";
  os << "\n|";
  const size_t ncols = s.axes.size() + 5 + ppl_cols.size() + 2 * analyze_labels.size() + probe_labels.size();
  for (size_t i = 0; i < ncols; ++i) os << "---|";
  os << "\n";
  for (const auto& r : results) {
    os << "|";
    for (const auto& [k, v] : r.point.settings) os << " " << v << " |";
    os << " " << (r.trained ? r.status : "not run") << " | " << r.step << " | " << cell(r.train_loss) << " | "
       << cell(r.val_loss) << " | " << cell(r.param_norm) << " |";
    for (const auto& [key, L] : ppl_cols) {
      double v = kNaN;
      if (auto it = r.eval.find(key); it != r.eval.end())
        for (size_t i = 0; i < it->second.lengths.size(); ++i)
          if (it->second.lengths[i] == L) v = it->second.ppl[i];
      os << " " << cell(v) << " |";
    }
    for (const auto& label : analyze_labels) {
      auto it = r.analyze.find(label);
      os << " " << (it == r.analyze.end() ? "–" : cell(mean(it->second.resolution_at_train_len))) << " | "
         << (it == r.analyze.end() ? "–" : cell(mean(it->second.resolution_at_length))) << " |";
    }
    for (const auto& label : probe_labels) {
      auto it = r.probe.find(label);
      os << " " << (it == r.probe.end() ? "–" : cell(mean(it->second.accuracy), "%.2f") + " / " +
                                                 cell(mean(it->second.byte_accuracy), "%.2f")) << " |";
    }
    os << "\n";
  }
  os << "\nR(T), R(L): attention resolution (arXiv 2212.10554 eq. 3) of the measured s^[n] within the training "
        "length and over the analyzed length, mean over layers; probe: exact-match / per-byte accuracy, mean over "
        "lengths and depths. Written by `pelab sweep --summarize`; every number is in summary.h5.\n";
  os << seeds_markdown(s, results, ppl_cols);
  // Benchmarks: the fields that say what ran and how fast, where the rows have them.
  const std::vector<std::string> kBenchCols = {"impl", "pe", "seq", "batch", "pass", "gflops", "tokens_per_s",
                                               "ratio_to_peak", "ratio_to_naive", "call_rss_increase_bytes",
                                               "peak_rss_bytes", "check_max_err_o"};
  for (const auto& [label, rows] : collect_bench(s)) {
    std::vector<std::string> cols;
    for (const auto& c : kBenchCols)
      if (std::any_of(rows.begin(), rows.end(), [&](const auto& r) { return r.count(c); })) cols.push_back(c);
    os << "\n## Benchmark " << label << "\n\n" << rows.size() << " row(s) of `" << (fs::path(s.out) / "bench" / (label + ".jsonl")).string()
       << "` (every field is there).\n\n|";
    for (const auto& c : cols) os << " " << c << " |";
    os << "\n|";
    for (size_t i = 0; i < cols.size(); ++i) os << "---|";
    os << "\n";
    for (const auto& r : rows) {
      os << "|";
      for (const auto& c : cols) os << " " << (r.count(c) ? r.at(c) : "–") << " |";
      os << "\n";
    }
  }
  return os.str();
}

BenchRows collect_bench(const Sweep& s) {
  BenchRows out;
  for (const auto& b : s.benches) {
    const std::string file = bench_file(s, b);
    if (fs::exists(file)) out[b.label] = parse_json_lines(read_text(file, "benchmark results"), "'" + file + "'");
  }
  return out;
}

void write_summary(const Sweep& s, const std::vector<PointResult>& results, const std::string& provenance_command) {
  const std::string h5_path = (fs::path(s.out) / "summary.h5").string();
  h5::File f = h5::File::create(h5_path);
  write_provenance(f, {"sweep", provenance_command, ""});
  f.set_attr("file_kind", "sweep_summary");
  f.set_attr("sweep", s.name);
  f.set_attr("base_config", s.base_config);
  std::vector<std::string> names, axes;
  for (const auto& r : results) names.push_back(r.point.name);
  for (const auto& a : s.axes) axes.push_back(a.key);
  f.set_attr("point_names", join(names, "\n"));
  f.set_attr("axes", join(axes, "\n"));
  const size_t n = results.size();
  // Columns in point order, NaN where a point has no value.
  h5::Group table = f.create_group("table");
  std::vector<double> train_loss(n), val_loss(n), param_norm(n);
  std::vector<int64_t> step(n), trained(n);
  for (size_t i = 0; i < n; ++i) {
    train_loss[i] = results[i].train_loss;
    val_loss[i] = results[i].val_loss;
    param_norm[i] = results[i].param_norm;
    step[i] = results[i].step;
    trained[i] = results[i].trained;
  }
  table.write("train_loss", train_loss);
  table.write("val_loss", val_loss);
  table.write("param_norm", param_norm);
  table.write("step", step);
  table.write("trained", trained);
  // Per point: its settings and everything read from its run folder.
  h5::Group pts = f.create_group("points");
  for (const auto& r : results) {
    h5::Group g = pts.create_group(r.point.name);
    g.set_attr("index", static_cast<int64_t>(r.point.index));
    g.set_attr("dir", r.point.dir);
    g.set_attr("status", r.trained ? r.status : "not run");
    for (const auto& [k, v] : r.point.settings) g.set_attr("setting." + k, v);
    for (const auto& [key, c] : r.eval) {
      h5::Group e = g.require_group("eval").require_group(key.substr(0, key.find('/'))).create_group(
          key.substr(key.find('/') + 1));
      e.write("lengths", c.lengths);
      e.write("ppl", c.ppl);
    }
    for (const auto& [label, p] : r.probe) {
      h5::Group e = g.require_group("probe").create_group(label);
      e.write("lengths", p.lengths);
      e.write("depths", p.depths);
      e.write("accuracy", p.accuracy.data(), {p.lengths.size(), p.depths.size()});
      if (p.byte_accuracy.size() == p.accuracy.size())
        e.write("byte_accuracy", p.byte_accuracy.data(), {p.lengths.size(), p.depths.size()});
    }
    for (const auto& [label, a] : r.analyze) {
      h5::Group e = g.require_group("analyze").create_group(label);
      e.set_attr("length", a.length);
      e.write("resolution_at_train_len", a.resolution_at_train_len);
      e.write("resolution_at_length", a.resolution_at_length);
      e.write("oscillation_within_tv", a.oscillation_within);
      e.write("oscillation_beyond_tv", a.oscillation_beyond);
      e.write("diagonal_mass", a.diagonal_mass);
      e.write("score_asymmetry", a.score_asymmetry);
    }
  }
  f.commit();
  write_text_atomic((fs::path(s.out) / "summary.md").string(), summary_markdown(s, results));
}

}  // namespace pelab
