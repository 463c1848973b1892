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
#include <string>
#include <vector>

#include "io/tensor_view.h"

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
};

// "reference", "cpu", "cuda" or "auto" (CUDA when a device is present, else the CPU; the fallback
// is described in *notice). Throws InputError for an unknown name or "cuda" without a device.
std::unique_ptr<Backend> make_backend(const std::string& device, std::string* notice = nullptr);

}  // namespace moeprobe
