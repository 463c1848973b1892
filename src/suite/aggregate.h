// How a hypothesis turns per-layer values into one number: mean, median, min, max, the fraction of
// layers satisfying a predicate, Spearman against depth, or band statistics over depth.
//
// Layers are identified by their position among the model's MoE layers (0-based) and the model's
// MoE layer count, so bands given as fractions of depth ([0.69, 0.94]) mean the same on 32- and
// 56-layer models. Layers whose value is NaN (the metric does not apply there) are left out.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "suite/expect.h"

namespace moeprobe {

// A band of MoE layer positions: `last_third` (the last third of the layers before the last), a
// closed range of positions [from, to] (negative counts from the end) or a closed range of depth
// fractions in [0, 1] (position p is in it when round(from * n) <= p <= round(to * n), capped at
// n - 2: a fraction band never holds the last layer, an outlier of its own in the paper).
struct Band {
  enum class Kind { LastThird, Positions, Fractions };
  Kind kind = Kind::LastThird;
  double from = 0, to = 0;
  bool contains(int position, int num_layers) const;
  std::string to_string() const;
  nlohmann::json to_json() const;
};

struct Aggregate {
  enum class Kind {
    Mean,
    Median,
    Min,
    Max,
    Fraction,
    SpearmanVsDepth,
    BandRatio,
    LastMinusBand,
    BandMean
  };
  Kind kind = Kind::Mean;
  Threshold predicate;       // Fraction
  Band band;                 // BandRatio, LastMinusBand, BandMean
  bool base_before = true;   // BandRatio: base = layers before the band (true) or all others
  bool band_median = false;  // LastMinusBand: the band's median instead of its mean

  std::string name() const;        // "mean", "band_ratio"
  std::string to_string() const;   // "band_ratio [0.69, 0.94] / before"
  nlohmann::json to_json() const;  // "mean" or {"band_ratio": {"band": [..], "base": "before"}}
};

struct LayerPoint {
  int position = 0;  // among the MoE layers
  double value = 0;
};

// The aggregate of the points (in any order, duplicates allowed: bootstrap resamples); NaN when not
// computable (no defined layer, empty band, zero base, constant values for Spearman), with *why
// set when given. *not_applicable (when given) tells apart an aggregate this model cannot have
// (a band or base that holds none of its MoE layers, Spearman on fewer than 3 layers: the
// hypothesis is SKIPPED) from values that leave it undefined (an ERROR).
double aggregate(const Aggregate& agg, const std::vector<LayerPoint>& points, int num_layers,
                 std::string* why = nullptr, bool* not_applicable = nullptr);

}  // namespace moeprobe
