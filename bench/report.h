// Timing and reporting helpers shared by the `pelab bench` topics.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace pelab::bench {

// Process CPU seconds (all threads) since an arbitrary origin.
double process_cpu_seconds();

struct Timing {
  double best = 0;      // wall seconds of the fastest timed run
  double total = 0;     // wall seconds of all timed runs
  int repeats = 0;      // timed runs (the warm-up is not counted)
  double best_cpu = 0;  // smallest process CPU seconds (all threads) of a timed run
  void add(double wall, double cpu) {
    if (repeats == 0 || wall < best) best = wall;
    if (repeats == 0 || cpu < best_cpu) best_cpu = cpu;
    total += wall;
    ++repeats;
  }
};

// Runs f once and adds its wall and process CPU time to t.
template <typename F>
void time_once(F&& f, Timing& t) {
  using clock = std::chrono::steady_clock;
  const double c0 = process_cpu_seconds();
  const auto t0 = clock::now();
  f();
  const double wall = std::chrono::duration<double>(clock::now() - t0).count();
  t.add(wall, process_cpu_seconds() - c0);
}

// One untimed warm-up run, then timed runs until at least `min_repeats` runs
// AND at least `min_time` seconds in total (capped at `max_repeats` runs);
// reports the best (min) time, the usual estimator on a noisy machine.
template <typename F>
Timing time_best(F&& f, double min_time = 0.5, int min_repeats = 3, int max_repeats = 1000) {
  f();
  Timing t;
  while (t.repeats < min_repeats || (t.total < min_time && t.repeats < max_repeats)) time_once(f, t);
  return t;
}

// Times several functions round-robin, one run each per round, so that the
// drift of a shared machine hits them alike and their ratios stay meaningful.
// Rounds continue until every function has at least `min_repeats` runs and
// `min_time` seconds (the time floor gives up after `max_rounds` rounds); no
// warm-up here: the caller runs each once first. Returns one Timing per function.
inline std::vector<Timing> time_best_interleaved(const std::vector<std::function<void()>>& fs, double min_time = 0.5,
                                                 int min_repeats = 3, int max_rounds = 1000) {
  std::vector<Timing> t(fs.size());
  auto done = [&] {
    for (const auto& x : t)
      if (x.repeats < min_repeats || (x.total < min_time && x.repeats < max_rounds)) return false;
    return true;
  };
  while (!done())
    for (size_t i = 0; i < fs.size(); ++i) time_once(fs[i], t[i]);
  return t;
}

// One JSON object on one line, keys in insertion order. Non-finite numbers
// become null (JSON has no inf or nan).
class JsonLine {
 public:
  JsonLine& str(const std::string& key, const std::string& value);
  JsonLine& num(const std::string& key, double value);       // %.6g
  JsonLine& integer(const std::string& key, int64_t value);
  JsonLine& boolean(const std::string& key, bool value);
  JsonLine& null(const std::string& key);
  std::string text() const { return "{" + body_ + "}"; }

 private:
  void key(const std::string& k);
  std::string body_;
};


}  // namespace pelab::bench
