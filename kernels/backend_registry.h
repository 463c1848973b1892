// The backends moeprobe can run on, one entry each (the registry style of src/util/registry.h).
// make_backend (backend.h) chooses from this table; `moeprobe run --device NAME` names an entry or
// "auto".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace moeprobe {

struct BackendEntry {
  std::string name;         // --device NAME
  std::string description;  // one line, for --help and docs
  // A backend, or nullptr with the reason in *why_not when it cannot run in this build or here.
  std::function<std::unique_ptr<Backend>(std::string* why_not)> make;
};

const std::vector<BackendEntry>& backend_registry();

}  // namespace moeprobe
