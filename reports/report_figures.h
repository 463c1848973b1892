// Which figures report.html draws for a hypothesis, read from its results alone (the per-layer
// values and each layer's `detail`), so `moeprobe report results.json` redraws them:
//   similarity / mean_neuron_similarity {kind: E×E}   -> a heat map per matrix kind (Fig. 1)
//   router_similarity + mean_neuron_similarity         -> router vs mean-neuron scatter, fit, R²
//   (Fig. 8) pca_points (+ pca_outliers, dark_cross)            -> 2-D PCA of the experts (Fig. 6)
//   pairs[{a, b, tau}]                                 -> Kendall τ heat map of the expert pairs
//   mean_output_similarity                             -> output-similarity heat map (Figs. 2, 3)
//   weight_similarity + mean_output_similarity         -> weight vs output similarity scatter
//   rank_count                                         -> score-rank × norm-rank counts (Figs. 4,
//   10) selection_counts                                   -> how often each expert is chosen
//   routing_map                                        -> tokens × experts routing (Fig. 14)
// and, for every hypothesis with per-layer values, the trend over layers with the threshold, the
// confidence band and the paper's values. A detail entry of an unexpected shape draws nothing.
#pragma once

#include <string>
#include <vector>

#include "reports/svg_plot.h"
#include "suite/result.h"

namespace moeprobe {

struct Figure {
  std::string key;      // what it shows, stable: "trend", "heatmap:similarity.act", "pca", ...
  std::string caption;  // plain text (escaped by the page)
  SvgFigure svg;
};

struct LayerFigures {
  int layer = 0;
  std::vector<Figure> figures;
};

struct HypothesisFigures {
  std::vector<Figure> overall;       // the per-layer trend
  std::vector<LayerFigures> layers;  // only layers with at least one figure
};

HypothesisFigures hypothesis_figures(const HypothesisResult& h);

}  // namespace moeprobe
