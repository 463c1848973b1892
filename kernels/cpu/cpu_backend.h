// The fast CPU backend: one pass over the bytes of a matrix set, converted to float in small
// blocks, with all requested results (Gram, standardised Gram, mean neurons) computed per block,
// and the shared parallel-for (util/parallel_for.h) over element ranges.
#pragma once

#include "kernels/backend.h"

namespace moeprobe {

class CpuBackend : public Backend {
 public:
  // threads <= 0: default_threads() (OMP_NUM_THREADS or the CPUs available).
  explicit CpuBackend(int threads = 0);
  std::string name() const override { return "cpu"; }
  std::string device() const override;
  int threads() const { return threads_; }

  MatrixSetStats matrix_set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                                  const MatrixSetRequest& request) override;
  Matrix gram_rows(const TensorView& m) override;
  Matrix neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) override;
  std::vector<double> neuron_norms(const TensorView& m, NeuronAxis axis) override;
  Matrix linear_rows(const TensorView& x, const TensorView& w) override;   // linear_rows_cpu.cpp
  AllExpertsStats all_experts(const AllExpertsRequest& request) override;  // all_experts_cpu.cpp

 private:
  int threads_;
};

}  // namespace moeprobe
