// The list of tensors a synthetic model is written from, in file order: each with its writer (the
// model or its dense reference), its shape and a fill function that generates it on demand, so
// only one tensor is in memory at a time.
#pragma once

#include <functional>
#include <vector>

#include "io/tensor_spec.h"
#include "synth/expert_generator.h"

namespace moeprobe::synth {

// One tensor to write: which model (0 main, 1 reference), its spec and how to fill it.
struct TensorJob {
  int writer;
  TensorSpec spec;  // name, recipe dtype, Linear-layout shape (what fill produces)
  std::function<void(float*)> fill;
  char quant = 0;           // 0 plain, 'f' FP8 blocks, 'm' MXFP4 (recipe quantization)
  bool transposed = false;  // the plain (and FP8) form stores the last two dimensions swapped
  int layer = -1;           // its decoder layer; -1: embeddings, final norm, LM head
};

// Every tensor of the model (writer 0) and, when ref_fam is given, of the dense reference model
// in that family's names (writer 1). The fill functions read gen's layer plans.
std::vector<TensorJob> plan_tensors(const SynthModel& m, ExpertGenerator& gen,
                                    const Family* ref_fam);

}  // namespace moeprobe::synth
