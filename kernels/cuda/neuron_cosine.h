// Neuron normalisation kernels (neuron_cosine.cu) and the Backend::neuron_cosine host entry
// (neuron_cosine.cpp): unit neurons, then one cuBLAS product.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/backend.h"

namespace moeprobe::cuda {

class CudaContext;

// A row-major [rows, cols] matrix holds neurons in its rows (by_rows) or in its columns.
// inv_norm[i] = 1 / ||neuron i|| in float64, 0 for a zero neuron (its cosines are then 0).
template <typename T>
void launch_neuron_inv_norms(const T* M, int64_t rows, int64_t cols, bool by_rows, double* inv_norm,
                             cudaStream_t stream);
// Scales every neuron of M to unit length in place (multiplying in float64).
template <typename T>
void launch_scale_neurons(T* M, int64_t rows, int64_t cols, bool by_rows, const double* inv_norm,
                          cudaStream_t stream);

// Backend::neuron_cosine on the device: an I x I matrix of cosines.
Matrix neuron_cosine(CudaContext& ctx, const TensorView& a, const TensorView& b, NeuronAxis axis);

}  // namespace moeprobe::cuda
