#include "experiments/decay_file.h"

#include <algorithm>
#include <cstdio>

#include "analysis/oscillation.h"
#include "core/hdf5_file.h"
#include "core/strings.h"

namespace pelab {

namespace {

// Distances 0, 1, 2, 4, ... up to N, and N itself.
std::vector<int64_t> log_spaced(int64_t N) {
  std::vector<int64_t> d{0};
  for (int64_t n = 1; n < N; n *= 2) d.push_back(n);
  d.push_back(N);
  return d;
}

void write_spec_attrs(h5::Group& g, const PeSpec& s, int head_dim, int heads, int64_t N) {
  g.set_attr("label", s.label());
  g.set_attr("pe", to_string(s.kind));
  g.set_attr("family", to_string(s.family()));
  g.set_attr("head_dim", head_dim);
  g.set_attr("heads", heads);
  g.set_attr("max_distance", N);
  if (s.family() == PeFamily::QK_TRANSFORM) {
    const RopeParams& r = s.rope;
    g.set_attr("base", r.base);
    g.set_attr("scaling", to_string(r.scaling));
    g.set_attr("factor", r.factor);
    g.set_attr("original_length", r.original_length);
    g.set_attr("low_freq_factor", r.low_freq_factor);
    g.set_attr("high_freq_factor", r.high_freq_factor);
    g.set_attr("beta_fast", r.beta_fast);
    g.set_attr("beta_slow", r.beta_slow);
    g.set_attr("layout", to_string(r.layout));
    g.set_attr("effective_base", rope_effective_base(RopeParams{r}, N + 1));
    if (s.kind == PeKind::XPOS) {
      g.set_attr("xpos_gamma", s.xpos.gamma);
      g.set_attr("xpos_scale_base", s.xpos.scale_base);
    }
  }
  if (s.kind == PeKind::ALIBI) g.set_attr("alibi_distance_scale", s.alibi_distance_scale);
  if (s.kind == PeKind::T5) {
    g.set_attr("t5_buckets", s.t5.num_buckets);
    g.set_attr("t5_max_distance", s.t5.max_distance);
    g.set_attr("t5_bidirectional", static_cast<int64_t>(s.t5.bidirectional));
  }
  if (s.kind == PeKind::KERPLE) {
    g.set_attr("kerple", to_string(s.kerple.kind));
    g.set_attr("kerple_a", s.kerple.a);
    g.set_attr("kerple_b", s.kerple.b);
    g.set_attr("kerple_p", s.kerple.p);
  }
  if (s.kind == PeKind::SINUSOIDAL) g.set_attr("base", 10000.0);
}

// Oscillation index of each row of a (rows, N+1) curve: scalars for one row,
// arrays of `rows` values otherwise.
void write_oscillation(h5::Group& g, const std::vector<double>& curve, int rows, int64_t N, bool per_head) {
  std::vector<double> tv, negative;
  std::vector<int64_t> changes, first;
  for (int r = 0; r < rows; ++r) {
    OscillationIndex o = oscillation_index(curve.data() + r * (N + 1), 0, N);
    tv.push_back(o.normalized_tv);
    changes.push_back(o.sign_changes);
    first.push_back(o.first_nonpositive);
    negative.push_back(o.negative_fraction);
  }
  g.set_attr("oscillation_range", std::vector<int64_t>{0, N});
  if (!per_head) {
    g.set_attr("oscillation_tv", tv[0]);
    g.set_attr("oscillation_sign_changes", changes[0]);
    g.set_attr("first_nonpositive_distance", first[0]);
    g.set_attr("negative_fraction", negative[0]);
  } else {
    g.set_attr("oscillation_tv", tv);
    g.set_attr("oscillation_sign_changes", changes);
    g.set_attr("first_nonpositive_distance", first);
    g.set_attr("negative_fraction", negative);
  }
}

void write_curves(h5::Group& g, const DecayCurves& c, int heads, int64_t N) {
  const uint64_t len = N + 1;
  g.write("distance", c.distance);
  if (!c.allones.empty()) {
    const bool per_head = !c.bias.empty();  // score biases: (H, N+1) even for H = 1
    if (!per_head) g.write("allones_score", c.allones);
    else g.write("allones_score", c.allones.data(), {static_cast<uint64_t>(c.allones_rows), len});
    write_oscillation(g, c.allones, c.allones_rows, N, per_head);
  }
  if (!c.rope_bound.empty()) g.write("rope_bound", c.rope_bound);
  if (!c.inv_freq.empty()) {
    g.write("inv_freq", c.inv_freq);
    g.set_attr("attention_scale", c.attention_scale);
  }
  if (!c.xpos_zeta.empty()) g.write("xpos_zeta", c.xpos_zeta);
  if (!c.slopes.empty()) g.write("slopes", c.slopes);
  if (!c.bias.empty()) g.write("bias", c.bias.data(), {static_cast<uint64_t>(heads), len});
  if (!c.bucket.empty()) g.write("bucket", c.bucket);
}

struct Column {
  std::string name;
  const double* values = nullptr;   // (N+1)
  const int64_t* ints = nullptr;    // (N+1), for T5 buckets
};

}  // namespace

void write_decay_file(const std::string& path, const Provenance& prov, const std::vector<PeSpec>& specs,
                      const std::vector<DecayCurves>& curves, int head_dim, int heads, int64_t N) {
  h5::File f = h5::File::create(path);
  write_provenance(f, prov);
  {
    h5::Group root = f.create_group("decay");
    root.set_attr("head_dim", static_cast<int64_t>(head_dim));
    root.set_attr("heads", static_cast<int64_t>(heads));
    root.set_attr("max_distance", static_cast<int64_t>(N));
    std::vector<std::string> labels;
    for (const auto& s : specs) labels.push_back(s.label());
    root.set_attr("variants", join(labels, ","));
    for (size_t v = 0; v < specs.size(); ++v) {
      h5::Group g = root.create_group(specs[v].label());
      write_spec_attrs(g, specs[v], head_dim, heads, N);
      write_curves(g, curves[v], heads, N);
    }
  }
  f.commit();
}

void print_decay_table(const std::vector<PeSpec>& specs, const std::vector<DecayCurves>& curves, int heads, int64_t N) {
  std::vector<Column> cols;
  for (size_t v = 0; v < specs.size(); ++v) {
    const DecayCurves& c = curves[v];
    const std::string label = specs[v].label();
    if (!c.bucket.empty()) cols.push_back({label + " bucket", nullptr, c.bucket.data()});
    if (c.allones.empty()) continue;
    if (c.allones_rows == 1) {
      cols.push_back({label, c.allones.data(), nullptr});
    } else {
      cols.push_back({label + " h0", c.allones.data(), nullptr});
      if (heads > 1)
        cols.push_back({label + " h" + std::to_string(heads - 1), c.allones.data() + (heads - 1) * (N + 1), nullptr});
    }
  }
  std::printf("all-ones pre-softmax score q.k/sqrt(d) (+ bias) by distance\n%10s", "distance");
  for (const auto& col : cols) std::printf(" %*s", static_cast<int>(std::max<size_t>(12, col.name.size())), col.name.c_str());
  std::printf("\n");
  for (int64_t n : log_spaced(N)) {
    std::printf("%10lld", static_cast<long long>(n));
    for (const auto& col : cols) {
      int w = static_cast<int>(std::max<size_t>(12, col.name.size()));
      if (col.ints) std::printf(" %*lld", w, static_cast<long long>(col.ints[n]));
      else std::printf(" %*.4f", w, col.values[n]);
    }
    std::printf("\n");
  }
}


}  // namespace pelab
