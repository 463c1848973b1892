// A hand-made RunResult with every outcome and awkward text, for the report writer tests.
#pragma once

#include <cmath>

#include "suite/result.h"

namespace moeprobe::testing {

inline RunResult sample_run() {
  RunResult r;
  r.suite_name = "closer-look <&> \"quoted\"";
  r.suite_path = "suites/closer_look.yaml";
  r.suite_paper = "arXiv:2406.18219";
  r.model = {"models/tiny", "mixtral", "classic", 4, {0, 1, 2, 3}, 8, 2, {"BF16"}, ""};
  r.environment = {"0.1.0", "abc123", "cpu", "2 CPU threads"};
  const Outcome outcomes[] = {Outcome::Pass,         Outcome::Fail,  Outcome::Warn,
                              Outcome::Inconclusive, Outcome::Error, Outcome::Skipped};
  int i = 0;
  for (Outcome o : outcomes) {
    HypothesisResult h;
    h.id = std::string("h-") + outcome_name(o);
    for (auto& c : h.id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h.finding = "finding with | pipe & <tag> and 'quote'";
    h.metric = "expert_weight_similarity";
    h.params = {{"matrix", "all"}};
    h.layers = "moe";
    h.outcome = o;
    h.reason = o == Outcome::Pass ? "" : "reason <" + std::to_string(i) + "> & more";
    h.value = 0.1 * i;
    h.lo = h.value - 0.05;
    h.hi = h.value + 0.05;
    h.threshold = *parse_threshold(">= 0.1");
    h.severity = o == Outcome::Warn ? Severity::Warn : Severity::Fail;
    h.reference = {{"Mixtral-8x7B", 0.3}, {"DeepSeekMoE-16B", 0.0}};
    h.resamples = 100;
    for (int l = 0; l < 4; ++l)
      h.per_layer.push_back({l, l, 0.1 * l + 0.01 * i, {{"offdiag", {0.1, 0.2}}}});
    if (o == Outcome::Error) {
      h.value = h.lo = h.hi = std::nan("");
      h.per_layer[2].value = std::nan("");
    }
    r.hypotheses.push_back(h);
    ++i;
  }
  return r;
}

}  // namespace moeprobe::testing
