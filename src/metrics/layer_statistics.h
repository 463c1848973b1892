// The intermediates shared by the static metrics of one layer, all computed eagerly from the
// layer's LayerPlan before any metric runs: one matrix_set_stats pass per matrix kind (Gram,
// standardised Gram and mean neurons together, so the layer's bytes are read once), the router
// Gram, and the A2 neuron matchings per expert pair (with each expert's neuron norms computed
// once).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "metrics/metric.h"
#include "metrics/neuron_pca.h"
#include "model/moe_layer.h"
#include "model/router.h"
#include "model/routing_data.h"
#include "probe/activations.h"

namespace moeprobe {

const char* matrix_kind_name(MatrixKind m);
// act and up hold a neuron per row, down per column.
NeuronAxis neuron_axis(MatrixKind m);
const TensorView& matrix_of(const ExpertWeights& w, MatrixKind m);

// Cosine matrix from a Gram: G_ab / max(sqrt(G_aa G_bb), 1e-8).
Matrix cosine_from_gram(const Matrix& g);
// Cosine matrix of a set of vectors (the mean neurons).
Matrix cosine_of_vectors(const std::vector<std::vector<double>>& v);

// A2 for one expert pair (a, b) and one matrix type.
struct NeuronMatch {
  std::vector<int> perm;              // a's neuron i is matched with b's neuron perm[i]
  double tau = 0.0;                   // Kendall tau-b between perm and the identity
  double similarity = 0.0;            // cos(vec W_a, vec W_b)
  double reordered_similarity = 0.0;  // cos(vec W_a, vec W_b with neurons permuted by perm)
};

struct MatrixStatistics {
  MatrixSetStats stats;  // entities: experts 0..N-1, then the reference FFN when included
  Matrix cosine;         // matrix-level cosines, same entities
  Matrix mean_cosine;    // cosines of the mean neurons
};

// What a layer's statistics are computed from: the layer's bytes and, for the dynamic analyses,
// the probe's activations of the layer with the router rule.
struct LayerInputs {
  const MoeLayer* layer = nullptr;
  const ExpertWeights* reference_ffn = nullptr;        // dense FFN "F" of the same layer, if given
  Activation reference_activation = Activation::SiLU;  // F's activation (the dense family's)
  const LayerActivations* activations = nullptr;       // the probe's MoE input of this layer [T, H]
  const ProbeInfo* probe = nullptr;                    // which probe (outlives the run's judging)
  const RouterRule* router_rule = nullptr;             // the model's routing rule
  std::size_t all_experts_block_bytes = 0;             // AllExpertsRequest::block_bytes
  // Router regression: the --compare-model baseline's routing of this decoder layer on these
  // inputs (suite/baseline_router.h); empty without a baseline.
  std::function<RoutingData(int layer, const TensorView& x, Backend&)> baseline_route;
};

struct LayerStatistics {
  int layer = 0;  // decoder layer index
  int num_experts = 0;
  // True when the reference FFN is entity N of every MatrixStatistics.
  bool has_reference = false;
  // Why a given reference FFN was left out (shape mismatch); empty when fine or absent.
  std::string reference_problem;
  std::optional<MatrixStatistics> matrices[3];
  std::optional<Matrix> router_cosine;
  std::map<std::pair<int, int>, NeuronMatch> matches[3];
  std::map<long long, NeuronPca> neuron_pca[3];  // per kind, per max_neurons
  // Dynamic intermediates (computed from the probe's activations).
  const ProbeInfo* probe = nullptr;  // set whenever the layer had activations
  std::optional<RoutingData> routing;
  std::optional<RoutingData> baseline_routing;    // the --compare-model baseline's
  std::optional<AllExpertsStats> expert_outputs;  // entities: experts, shared block, F
  std::vector<double> active_thresholds;          // order of expert_outputs->active_counts
};

// Computes everything the plan asks for. Throws InputError on bad input (a NaN weight, a reference
// FFN whose shapes differ from the experts' when the plan needs it).
LayerStatistics compute_layer_statistics(const LayerInputs& in, const LayerPlan& plan,
                                         Backend& backend);

// Replaces the dynamic intermediates of `ls` (probe, routing, all-experts outputs) with those
// `plan` asks for on `in`'s probe activations; the static ones are kept, so a layer's bytes are
// reduced once however many probes read it.
void compute_dynamic_layer_statistics(const LayerInputs& in, const LayerPlan& plan,
                                      Backend& backend, LayerStatistics& ls);

// Read access for metrics; an intermediate the plan left out is a logic_error (a metric that
// reads what it did not declare).
const MatrixStatistics& matrix_statistics(const LayerStatistics& ls, MatrixKind m);
// Throws InputError (--reference-model) when the layer has no usable reference FFN.
const MatrixStatistics& matrix_statistics_with_reference(const LayerStatistics& ls, MatrixKind m,
                                                         const std::string& metric);
const Matrix& router_cosine(const LayerStatistics& ls);
const NeuronMatch& neuron_match(const LayerStatistics& ls, MatrixKind m, int a, int b);
// Dynamic intermediates; unplanned reads are logic_errors as above.
const RoutingData& routing(const LayerStatistics& ls);
const AllExpertsStats& expert_outputs(const LayerStatistics& ls);
const RoutingData& baseline_routing(const LayerStatistics& ls);
// Per token x entity counts of |act(W_act x)| > threshold ([T * N_ent]; denominators in
// expert_outputs(ls).entity_neurons).
const std::vector<int32_t>& active_counts(const LayerStatistics& ls, double threshold);
const std::vector<double>& act_correlation(const LayerStatistics& ls);
const ProbeInfo& probe_info(const LayerStatistics& ls);
// The probe's token indices a dynamic metric resamples over, BOS positions left out when asked.
// Throws InputError naming the probe when none is left (a probe of BOS tokens only).
std::vector<int64_t> probe_tokens(const LayerStatistics& ls, bool exclude_bos,
                                  const std::string& metric);

// The per-layer matrices results.json carries for the dynamic analyses (metrics put them in their
// `detail`):
// A10's rank-count matrix C[s][r]: over `tokens`, +1 for every routed expert whose rank by the
// full-softmax probability is s and by output norm is r (ranks 0..E-1 ascending, ties to the
// lower expert index). Needs Routing and ExpertOutputs.
Matrix rank_count_matrix(const LayerStatistics& ls, const std::vector<int64_t>& tokens);
// A8's mean output-similarity matrix over the entities (experts, shared block, F): the per-token
// cosine (or angular) matrices averaged over all tokens or over the non-BOS ones.
Matrix mean_output_similarity(const LayerStatistics& ls, bool angular, bool exclude_bos);

// Expert pairs a > b to evaluate: all, or max_pairs of them spread evenly over the pair list
// (deterministic, so reruns and backends agree).
std::vector<std::pair<int, int>> selected_pairs(int n, long long max_pairs);

}  // namespace moeprobe
