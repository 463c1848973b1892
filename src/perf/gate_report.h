// perf-gate output: a GitHub-flavoured Markdown table (printed, and fit for a GitHub Actions step
// summary) and the same rows as JSON for machines.
#pragma once

#include <string>

#include "perf/gate.h"

namespace moeprobe::perf {

std::string render_gate_markdown(const GateResult& result);
std::string render_gate_json(const GateResult& result);

}  // namespace moeprobe::perf
