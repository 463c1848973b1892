// The float64 reference backend: plain loops over float64 values, slow and obviously right. It is
// the oracle the tests compare the fast backends against.
#pragma once

#include "kernels/backend.h"

namespace moeprobe {

class ReferenceBackend : public Backend {
 public:
  std::string name() const override { return "reference"; }
  std::string device() const override { return "CPU, float64 loops"; }
  MatrixSetStats matrix_set_stats(const std::vector<TensorView>& mats, NeuronAxis axis,
                                  const MatrixSetRequest& request) override;
  Matrix gram_rows(const TensorView& m) override;
  Matrix neuron_cosine(const TensorView& a, const TensorView& b, NeuronAxis axis) override;
  AllExpertsStats all_experts(const AllExpertsRequest& request) override;
};

}  // namespace moeprobe
