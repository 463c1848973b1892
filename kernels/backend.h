// The primitive interface every backend implements with identical semantics: the float64
// reference (kernels/reference, slow and obviously right: the oracle in tests), the fast CPU path
// (kernels/cpu) and CUDA (kernels/cuda). Inputs are TensorViews into the mmap in any float dtype;
// conversion to float happens block by block inside the primitive. Results are float64.
//
// Accuracy contract: cosines over tens of millions of elements near 0 need absolute accuracy near
// 1e-5, so products are accumulated in float64 (or in short float32 blocks summed in float64,
// which tests prove equivalent to the reference within 1e-9 relative to the norms).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tensor_view.h"
#include "model/moe_layer.h"

namespace moeprobe {

// A dense row-major float64 matrix (Gram matrices, similarity matrices).
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;
  Matrix() = default;
  Matrix(int64_t r, int64_t c, double fill = 0.0)
      : rows(r), cols(c), data(static_cast<std::size_t>(r * c), fill) {}
  double& operator()(int64_t r, int64_t c) { return data[static_cast<std::size_t>(r * cols + c)]; }
  double operator()(int64_t r, int64_t c) const {
    return data[static_cast<std::size_t>(r * cols + c)];
  }
};

// Which way a matrix holds its neurons: W_act and W_up [I, H] hold neuron i in row i; W_down
// [H, I] holds it in column i. The mean neuron is then the mean over rows or over columns.
enum class NeuronAxis { Rows, Cols };

// What matrix_set_stats should compute in its single pass over the bytes.
struct MatrixSetRequest {
  bool gram = true;                // G[a,b] = <vec W_a, vec W_b>
  bool standardized_gram = false;  // Gram after z-scoring each element position across the set
  bool mean_neuron = false;        // per matrix: mean neuron vector (length H)
};

struct MatrixSetStats {
  Matrix gram;               // N x N
  Matrix standardized_gram;  // N x N; positions with zero variance across the set are skipped
  std::vector<std::vector<double>> mean_neuron;  // N vectors of length H
  int64_t skipped_positions = 0;  // element positions left out of the standardized Gram
};

// All-experts evaluation (the dynamic analyses A7-A11): every entity's output on every token of a
// probe, E(x) = W_down glu(W_act x + b_act, W_up x + b_up) + b_down (glu(a, u) = act(a) * u, or
// gpt-oss's clamped form (clamp(u, -limit, limit) + 1) * act(a); biases only where the family has
// them: ExpertWeights::act_bias, up_bias, down_bias), evaluated on the full token matrix (never in
// dispatch order) and reduced token block by token block to per-token statistics, so memory never
// holds [T, N, H]. "act" below is act(W_act x + b_act), the activated gate.
//
// An entity is a routed expert, the shared-expert block, or the dense reference FFN "F". The
// shared block is the sum of its parts (one fused block or one part per shared expert), scaled per
// token by sigmoid(gate . x) when the family has a shared-expert gate (Qwen2-MoE): the output the
// block adds to the residual stream, the paper's "SE".
struct FfnEntity {
  std::vector<ExpertWeights> parts;        // output = sum over parts (usually one)
  ActivationSpec activation;               // kind and gpt-oss's alpha and limit
  std::optional<TensorView> sigmoid_gate;  // [1, H] or [H]
  int64_t neurons() const;                 // sum of the parts' intermediate sizes
};

struct AllExpertsRequest {
  TensorView tokens;  // [T, H] float: the MoE block's input (post-attention norm)
  // Entities in this order: num_experts routed experts, then num_shared shared blocks (0 or 1),
  // then the reference FFN when has_reference.
  std::vector<FfnEntity> entities;
  int num_experts = 0;
  int num_shared = 0;
  bool has_reference = false;
  // The routed experts each token selected, [T * top_k] (descending score); empty: no
  // chosen-pair statistics.
  std::vector<int> chosen;
  int top_k = 0;
  // [T], 1 at BOS positions: the similarity sums are also kept over non-BOS tokens. Empty: none.
  std::vector<uint8_t> bos_mask;
  // For each threshold, the count of neurons with |act(W_act x)_i| > threshold per token and
  // entity (A11 activation ratio).
  std::vector<double> activation_thresholds;
  // Per token, the mean over routed-expert pairs of the Pearson correlation of their act vectors
  // act(W_act x) across neuron positions (A11 "vertical lines"; needs equal expert widths).
  bool act_correlation = false;
  // Scratch memory one token block may use (activations, intermediate products, Grams); 0: the
  // backend's default. The block length follows from it, so results never depend on it beyond
  // float rounding.
  std::size_t block_bytes = 0;
};

// Sums over tokens of the per-token cosine and angular (1 - arccos(cos)/pi) matrices of the
// entities' outputs; the mean matrix is sum / tokens.
struct SimilaritySums {
  Matrix cosine, angular;  // [N_ent, N_ent]
  int64_t tokens = 0;
};

struct AllExpertsStats {
  int64_t tokens = 0;
  int entities = 0, num_experts = 0, num_shared = 0;
  bool has_reference = false;
  std::vector<int64_t> entity_neurons;  // intermediate size of each entity
  std::vector<double> norms;            // [T * N_ent]: ||E_n(x_t)||_2 (unweighted outputs)
  // Per token, over routed-expert pairs a < b (NaN with fewer than two experts).
  std::vector<double> mean_cosine, mean_angular;
  // Per token, over the pairs of its chosen experts (NaN when top_k < 2 or no routing given).
  std::vector<double> chosen_cosine, chosen_angular;
  // Per token, mean over routed experts of the similarity to the shared block / to F (empty when
  // the entity is absent).
  std::vector<double> shared_cosine, shared_angular;
  std::vector<double> reference_cosine, reference_angular;
  SimilaritySums all, non_bos;  // over every token / over non-BOS tokens
  // Per activation threshold (request order): [T * N_ent] counts of |act(W_act x)_i| > threshold.
  std::vector<std::vector<int32_t>> active_counts;
  std::vector<double> act_correlation;  // [T] when requested (NaN with fewer than two experts)

  double norm(int64_t t, int n) const { return norms[static_cast<std::size_t>(t * entities + n)]; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;    // "reference", "cpu", "cuda"
  virtual std::string device() const = 0;  // human-readable: "2 CPU threads", "NVIDIA H100 ..."

  // One pass over N matrices of identical shape (the experts' W_m of a layer, plus the dense FFN).
  virtual MatrixSetStats matrix_set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                                          const MatrixSetRequest& request) = 0;
  // Gram matrix of the rows of a [N, D] matrix (router rows).
  virtual Matrix gram_rows(const TensorView& m) = 0;
  // Cosine of every neuron of a with every neuron of b: an I x I matrix (A2).
  virtual Matrix neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) = 0;
  // Euclidean norm of every neuron (row i for Rows, column i for Cols). A2 needs it to turn the
  // matched neurons' cosines back into dot products. The default streams the tensor in float64;
  // a backend may override it.
  virtual std::vector<double> neuron_norms(const TensorView& m, NeuronAxis axis);

  // x [T, H] times w [N, H] transposed: [T, N] in float64 (router logits). The default
  // accumulates in float64 (router logits decide top-k selections, so no float32 rounding).
  virtual Matrix linear_rows(const TensorView& x, const TensorView& w);
  // The all-experts evaluation above. Every backend returns the same statistics up to float32
  // rounding of the products (tests: reference vs CPU vs CUDA). The default is the CPU
  // implementation (kernels/cpu/all_experts_cpu.h) on default_threads().
  virtual AllExpertsStats all_experts(const AllExpertsRequest& request);
};

// "reference", "cpu", "cuda" or "auto" (CUDA when a device is present, else the CPU; the fallback
// is described in *notice). Throws InputError for an unknown name or "cuda" without a device.
std::unique_ptr<Backend> make_backend(const std::string& device, std::string* notice = nullptr);

}  // namespace moeprobe
