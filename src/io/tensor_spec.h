// A tensor as a safetensors header describes it: name, dtype, shape. The reader's entries and the
// writer's declarations are both this.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace moeprobe {

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t nbytes() const;  // elements x dtype size
};

}  // namespace moeprobe
