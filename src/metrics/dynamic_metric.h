// What every dynamic metric (A7-A12, router comparison) shares: the params `exclude_bos`
// (leave BOS positions out; the paper kept them, BOS hidden states are often outliers) and
// `units: tokens | sequences` (what the bootstrap resamples), the probe's token set, and a
// LayerMeasurement whose detail names the probe it ran on.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/layer_statistics.h"
#include "metrics/metric.h"

namespace moeprobe {

enum class ResampleUnits { Tokens, Sequences };

struct DynamicParams : ParsedParams {
  bool exclude_bos = false;
  ResampleUnits units = ResampleUnits::Tokens;
};

// The keys every dynamic metric accepts, to merge into a metric's own allowed keys.
std::set<std::string> dynamic_param_keys(std::set<std::string> own = {});
// Reads exclude_bos and units (InputError naming params.<key>).
void parse_dynamic_params(const nlohmann::json& p, const std::string& where, DynamicParams& out);
// The params of a metric that takes only the common dynamic keys.
DynamicParams plain_dynamic_params(const nlohmann::json& p, const std::string& where);
bool bool_param(const nlohmann::json& p, const std::string& key, bool fallback,
                const std::string& where);
double number_param(const nlohmann::json& p, const std::string& key, double fallback,
                    double min_exclusive, const std::string& where);
// `key` must be one of `allowed`; `fallback` when absent.
std::string choice_param(const nlohmann::json& p, const std::string& key,
                         const std::string& fallback, const std::vector<std::string>& allowed,
                         const std::string& where);

// The probe tokens a metric uses (InputError when none is left after BOS exclusion).
std::vector<int64_t> metric_tokens(const LayerStatistics& ls, const DynamicParams& p,
                                   const std::string& metric);

// detail["probe"]: the probe's name and source, the tokens used, BOS excluded or not, units.
nlohmann::json probe_detail(const LayerStatistics& ls, const DynamicParams& p, int64_t tokens);

// A layer value statistic(tokens) resampled over the tokens or the sequences they belong to
// (each resampled unit contributes its tokens); detail gets the probe.
LayerMeasurement token_measurement(const LayerStatistics& ls, const DynamicParams& p,
                                   std::vector<int64_t> tokens,
                                   std::function<double(const std::vector<int64_t>&)> statistic,
                                   nlohmann::json detail);
// The mean of per-token values (NaN values left out) over the tokens, resampled likewise.
LayerMeasurement token_mean_measurement(const LayerStatistics& ls, const DynamicParams& p,
                                        std::vector<int64_t> tokens, std::vector<double> per_token,
                                        nlohmann::json detail);

// Mean over the given tokens of per-token values, NaNs left out (NaN when none is left).
double mean_over(const std::vector<double>& per_token, const std::vector<int64_t>& tokens);

// Metric families of the dynamic analyses, each in its own file (called by registry.cpp).
void add_expert_output_similarity_metrics(std::vector<std::unique_ptr<Metric>>& out);  // A7, A8
void add_norm_routing_metrics(std::vector<std::unique_ptr<Metric>>& out);              // A9, A10
void add_activation_pattern_metrics(std::vector<std::unique_ptr<Metric>>& out);        // A11
void add_routing_pattern_metrics(std::vector<std::unique_ptr<Metric>>& out);           // A12
void add_routing_comparison_metrics(std::vector<std::unique_ptr<Metric>>& out);        // regression

}  // namespace moeprobe
