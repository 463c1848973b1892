#include "reports/report_figures.h"

#include <cmath>
#include <map>
#include <optional>

namespace moeprobe {

namespace {

using Json = nlohmann::json;
// Not "Matrix": the unity build can put this file beside kernels/backend.h's moeprobe::Matrix.
using RowMatrix = std::vector<std::vector<double>>;

double number_or_nan(const Json& v) {
  return v.is_number() ? v.get<double>() : std::nan("");
}

// A non-empty rectangular array of numbers (null entries read as NaN), or nothing.
std::optional<RowMatrix> matrix_of(const Json& j) {
  if (!j.is_array() || j.empty()) return std::nullopt;
  RowMatrix m;
  for (const Json& row : j) {
    if (!row.is_array() || row.empty()) return std::nullopt;
    std::vector<double> r;
    for (const Json& v : row) {
      if (!v.is_number() && !v.is_null()) return std::nullopt;
      r.push_back(number_or_nan(v));
    }
    if (!m.empty() && r.size() != m.front().size()) return std::nullopt;
    m.push_back(std::move(r));
  }
  return m;
}

std::optional<std::vector<double>> vector_of(const Json& j) {
  if (!j.is_array() || j.empty()) return std::nullopt;
  std::vector<double> v;
  for (const Json& x : j) {
    if (!x.is_number() && !x.is_null()) return std::nullopt;
    v.push_back(number_or_nan(x));
  }
  return v;
}

std::vector<std::string> entity_labels(const Json& detail, std::size_t n) {
  std::vector<std::string> out;
  if (const auto it = detail.find("entities"); it != detail.end() && it->is_array())
    for (const Json& e : *it) out.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  for (std::size_t k = out.size(); k < n; ++k) out.push_back(std::to_string(k));
  out.resize(n);
  return out;
}

std::string matrix_name(const std::string& kind) {
  if (kind == "act") return "W_act";
  if (kind == "up") return "W_up";
  if (kind == "down") return "W_down";
  return kind;
}

bool square(const RowMatrix& m) {
  return m.size() == m.front().size();
}

Figure similarity_map(const std::string& key, const RowMatrix& m, const Json& detail,
                      const std::string& what, const std::string& caption) {
  HeatMap h;
  h.labels = entity_labels(detail, m.size());
  h.values = m;
  h.scale = similarity_scale();
  h.x_label = "expert";
  h.y_label = "expert";
  h.value_label = what;
  return {key, caption, heat_map_svg(h)};
}

// The off-diagonal upper triangle of two square matrices, over the entities both hold (the
// dense FFN "F", last when present, is left out of a matrix that lacks it).
Figure pair_scatter(const std::string& key, const RowMatrix& x, const RowMatrix& y,
                    const std::string& x_label, const std::string& y_label,
                    const std::string& caption) {
  Scatter s;
  const std::size_t n = std::min(x.size(), y.size());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      s.x.push_back(x[i][j]);
      s.y.push_back(y[i][j]);
    }
  s.x_label = x_label;
  s.y_label = y_label;
  return {key, caption, scatter_svg(s)};
}

std::vector<Figure> layer_figures(const Json& d) {
  std::vector<Figure> out;
  if (!d.is_object()) return out;
  // Fig. 1: expert similarity per matrix kind.
  if (const auto it = d.find("similarity"); it != d.end() && it->is_object())
    for (const auto& [kind, j] : it->items())
      if (auto m = matrix_of(j); m && square(*m))
        out.push_back(similarity_map("heatmap:similarity." + kind, *m, d, "cosine similarity",
                                     matrix_name(kind) + ": cosine similarity of the flattened "
                                                         "expert matrices"));
  const auto mean_neuron = d.find("mean_neuron_similarity");
  if (mean_neuron != d.end() && mean_neuron->is_object())
    for (const auto& [kind, j] : mean_neuron->items())
      if (auto m = matrix_of(j); m && square(*m))
        out.push_back(
            similarity_map("heatmap:mean_neuron_similarity." + kind, *m, d, "cosine similarity",
                           matrix_name(kind) + ": cosine similarity of the experts' mean neurons"));
  // Fig. 8: router rows vs mean neurons, one scatter per matrix kind.
  if (const auto r = d.find("router_similarity");
      r != d.end() && mean_neuron != d.end() && mean_neuron->is_object())
    if (auto router = matrix_of(*r); router && square(*router))
      for (const auto& [kind, j] : mean_neuron->items())
        if (auto m = matrix_of(j); m && square(*m))
          out.push_back(pair_scatter("scatter:router_vs_mean_neuron." + kind, *router, *m,
                                     "router-row cosine similarity",
                                     matrix_name(kind) + " mean-neuron similarity",
                                     "Router gate rows vs " + matrix_name(kind) +
                                         " mean-neuron similarity, one point per expert pair"));
  // Fig. 6: PCA of the experts.
  if (const auto p = d.find("pca_points"); p != d.end())
    if (auto pts = matrix_of(*p); pts && pts->front().size() >= 2) {
      Scatter s;
      const std::size_t n = pts->size();
      for (const auto& row : *pts) {
        s.x.push_back(row[0]);
        s.y.push_back(row[1]);
      }
      s.point_labels = entity_labels(d, n);
      s.marked.assign(n, false);
      s.ringed.assign(n, false);
      auto flag = [&](const char* name, std::vector<bool>& into) {
        if (const auto it = d.find(name); it != d.end() && it->is_array())
          for (const Json& k : *it)
            if (k.is_number_integer() && k.get<long long>() >= 0 &&
                k.get<long long>() < static_cast<long long>(n))
              into[k.get<std::size_t>()] = true;
      };
      flag("pca_outliers", s.marked);
      flag("dark_cross", s.ringed);
      s.marked_label = "PCA outlier";
      s.ringed_label = "dark-cross expert";
      s.fit_line = false;
      std::string pc1 = "PC 1", pc2 = "PC 2";
      if (auto ev = d.find("explained_variance"); ev != d.end())
        if (auto v = vector_of(*ev); v && v->size() >= 2) {
          pc1 += " (" + short_number(100 * (*v)[0]) + " % of variance)";
          pc2 += " (" + short_number(100 * (*v)[1]) + " % of variance)";
        }
      s.x_label = pc1;
      s.y_label = pc2;
      std::string matrix = "expert";
      if (auto m = d.find("matrix"); m != d.end() && m->is_string())
        matrix = matrix_name(m->get<std::string>());
      out.push_back({"pca",
                     "2-D PCA of the flattened " + matrix +
                         " matrices, outliers and dark-cross experts marked",
                     scatter_svg(s)});
    }
  // Neuron order: Kendall τ of every matched expert pair.
  if (const auto p = d.find("pairs"); p != d.end() && p->is_array() && !p->empty()) {
    std::map<std::pair<long long, long long>, double> tau;
    long long n = 0;
    for (const Json& e : *p)
      if (e.is_object() && e.value("a", Json()).is_number_integer() &&
          e.value("b", Json()).is_number_integer() && e.value("tau", Json()).is_number()) {
        const long long a = e["a"].get<long long>(), b = e["b"].get<long long>();
        if (a < 0 || b < 0 || a >= 4096 || b >= 4096) continue;
        tau[{a, b}] = e["tau"].get<double>();
        n = std::max({n, a + 1, b + 1});
      }
    if (n > 0) {
      HeatMap h;
      h.values.assign(n, std::vector<double>(n, std::nan("")));
      for (const auto& [ab, t] : tau)
        h.values[ab.first][ab.second] = h.values[ab.second][ab.first] = t;
      for (long long k = 0; k < n; ++k) h.labels.push_back(std::to_string(k));
      h.scale = similarity_scale();
      h.x_label = h.y_label = "expert";
      h.value_label = "Kendall τ";
      out.push_back({"heatmap:pairs.tau",
                     "Kendall τ of the neuron order after optimal matching, per expert pair",
                     heat_map_svg(h)});
    }
  }
  // Figs. 2, 3: mean similarity of the experts' outputs.
  const auto output = d.find("mean_output_similarity");
  if (output != d.end())
    if (auto m = matrix_of(*output); m && square(*m)) {
      std::string measure = "similarity";
      if (auto ms = d.find("measure"); ms != d.end() && ms->is_string())
        measure = ms->get<std::string>() + " similarity";
      out.push_back(similarity_map("heatmap:mean_output_similarity", *m, d, measure,
                                   "Mean " + measure + " of the experts' outputs over the probe"));
      if (const auto w = d.find("weight_similarity"); w != d.end())
        if (auto wm = matrix_of(*w); wm && square(*wm))
          out.push_back(pair_scatter(
              "scatter:weight_vs_output", *wm, *m, "weight similarity", "mean output " + measure,
              "Weight similarity vs mean output " + measure + ", one point per expert pair"));
    }
  // Figs. 4, 10: how often score rank i meets norm rank j.
  if (const auto rc = d.find("rank_count"); rc != d.end())
    if (auto m = matrix_of(*rc)) {
      HeatMap h;
      h.values = *m;
      double max = 0;
      for (const auto& row : *m)
        for (double v : row)
          if (std::isfinite(v)) max = std::max(max, v);
      h.scale = count_scale(max);
      for (std::size_t k = 0; k < m->size(); ++k) h.labels.push_back(std::to_string(k));
      for (std::size_t k = 0; k < m->front().size(); ++k)
        h.column_labels.push_back(std::to_string(k));
      h.y_label = "score rank";
      h.x_label = "norm rank";
      std::string axes;
      if (auto a = d.find("rank_count_axes"); a != d.end() && a->is_string()) {
        axes = a->get<std::string>();
        const auto rows = axes.find("rows: "), cols = axes.find(", columns: ");
        if (rows == 0 && cols != std::string::npos) {
          h.y_label = axes.substr(6, cols - 6);
          h.x_label = axes.substr(cols + 11);
        }
      }
      h.value_label = "tokens";
      out.push_back({"heatmap:rank_count",
                     "Tokens per (router-score rank, output-norm rank)" +
                         (axes.empty() ? std::string() : " — " + axes),
                     heat_map_svg(h)});
    }
  if (const auto sc = d.find("selection_counts"); sc != d.end())
    if (auto v = vector_of(*sc)) {
      BarChart b;
      b.values = *v;
      for (std::size_t k = 0; k < v->size(); ++k) b.labels.push_back("expert " + std::to_string(k));
      b.x_label = "expert";
      b.y_label = "times selected";
      out.push_back(
          {"bars:selection_counts", "How often the router selects each expert", bar_chart_svg(b)});
    }
  // Fig. 14: the router's choice per token of the probe.
  if (const auto rm = d.find("routing_map"); rm != d.end())
    if (auto m = matrix_of(*rm)) {
      HeatMap h;
      h.values = *m;
      for (std::size_t k = 0; k < m->size(); ++k) h.labels.push_back(std::to_string(k));
      for (std::size_t k = 0; k < m->front().size(); ++k)
        h.column_labels.push_back(std::to_string(k));
      h.scale = count_scale(1);
      h.y_label = "token";
      h.x_label = "expert";
      h.value_label = "router weight";
      out.push_back({"heatmap:routing_map", "Router weight of every expert on each probe token",
                     heat_map_svg(h)});
    }
  return out;
}

bool on_value_scale(Aggregate::Kind k) {
  return k == Aggregate::Kind::Mean || k == Aggregate::Kind::Median || k == Aggregate::Kind::Min ||
         k == Aggregate::Kind::Max || k == Aggregate::Kind::BandMean;
}

std::optional<Figure> trend_figure(const HypothesisResult& h) {
  if (h.per_layer.empty()) return std::nullopt;
  TrendChart c;
  for (const auto& l : h.per_layer) c.points.push_back({static_cast<double>(l.layer), l.value});
  const auto kind = h.aggregate.kind;
  std::string caption = "Per-layer " + h.metric + "; the hypothesis judges " +
                        h.aggregate.to_string() + " over layers " + h.layers + " = " +
                        short_number(h.value, 4) + " [" + short_number(h.lo, 4) + ", " +
                        short_number(h.hi, 4) + "], expected " + h.threshold.to_string();
  if (on_value_scale(kind)) {
    if (h.threshold.op == Threshold::Op::In) {
      c.lines.push_back({h.threshold.lo, "threshold " + short_number(h.threshold.lo), true});
      c.lines.push_back({h.threshold.hi, "threshold " + short_number(h.threshold.hi), true});
    } else {
      c.lines.push_back({h.threshold.value, "threshold " + h.threshold.to_string(), true});
    }
    if (std::isfinite(h.lo) && std::isfinite(h.hi)) {
      c.band = std::make_pair(h.lo, h.hi);
      c.band_label = short_number(100 * h.level) + " % interval of the " + h.aggregate.name() +
                     " (" + h.interval_method + " over " + h.interval_over + ")";
    }
  } else if (kind == Aggregate::Kind::Fraction) {
    c.lines.push_back(
        {h.aggregate.predicate.value, "per-layer test " + h.aggregate.predicate.to_string(), true});
  }
  // The paper's values are on the per-layer scale wherever the aggregate is.
  if (on_value_scale(kind) || kind == Aggregate::Kind::Fraction) {
    std::map<double, std::string> refs;  // equal values share one label
    for (const auto& [model, v] : h.reference) refs[v] += (refs[v].empty() ? "" : ", ") + model;
    for (const auto& [v, models] : refs)
      c.lines.push_back({v, models + " " + short_number(v), false});
  } else if (!h.reference.empty()) {
    caption += "; paper:";
    for (const auto& [model, v] : h.reference) caption += " " + model + " " + short_number(v);
  }
  c.x_label = "decoder layer";
  c.y_label = h.metric;
  return Figure{"trend", caption, trend_svg(c)};
}

}  // namespace

HypothesisFigures hypothesis_figures(const HypothesisResult& h) {
  HypothesisFigures out;
  if (auto t = trend_figure(h)) out.overall.push_back(std::move(*t));
  for (const auto& l : h.per_layer) {
    LayerFigures lf{l.layer, layer_figures(l.detail)};
    if (!lf.figures.empty()) out.layers.push_back(std::move(lf));
  }
  return out;
}

}  // namespace moeprobe
