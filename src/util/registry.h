// The one registry style of moeprobe: a registry is a table of entries built explicitly in one
// file (no static-initialisation self-registration, which a static library silently drops), each
// entry a struct whose first member is its `name`. Subcommands (src/cli/commands.cpp), metrics
// (src/metrics/registry.cpp), backends (kernels/backend.cpp) and report formats
// (reports/write_reports.cpp) all follow it; these helpers look entries up by name.
#pragma once

#include <string>
#include <vector>

namespace moeprobe {

// The entry called `name`, or nullptr.
template <typename Entry>
const Entry* find_entry(const std::vector<Entry>& table, const std::string& name) {
  for (const Entry& e : table)
    if (name == e.name) return &e;
  return nullptr;
}

// "a, b, c" (for error messages naming what was expected).
template <typename Entry>
std::string entry_names(const std::vector<Entry>& table, const std::string& separator = ", ") {
  std::string out;
  for (const Entry& e : table) {
    if (!out.empty()) out += separator;
    out += e.name;
  }
  return out;
}

}  // namespace moeprobe
