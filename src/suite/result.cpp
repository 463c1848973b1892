#include "suite/result.h"

#include <stdexcept>

namespace moeprobe {

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Pass:
      return "PASS";
    case Outcome::Fail:
      return "FAIL";
    case Outcome::Warn:
      return "WARN";
    case Outcome::Inconclusive:
      return "INCONCLUSIVE";
    case Outcome::Error:
      return "ERROR";
    case Outcome::Skipped:
      return "SKIPPED";
  }
  return "ERROR";
}

Outcome parse_outcome(const std::string& name) {
  for (Outcome o : {Outcome::Pass, Outcome::Fail, Outcome::Warn, Outcome::Inconclusive,
                    Outcome::Error, Outcome::Skipped})
    if (name == outcome_name(o)) return o;
  throw std::invalid_argument("expected one of PASS, FAIL, WARN, INCONCLUSIVE, ERROR, SKIPPED");
}

OutcomeCounts count_outcomes(const RunResult& r) {
  OutcomeCounts c;
  for (const auto& h : r.hypotheses) {
    switch (h.outcome) {
      case Outcome::Pass:
        ++c.pass;
        break;
      case Outcome::Fail:
        ++c.fail;
        break;
      case Outcome::Warn:
        ++c.warn;
        break;
      case Outcome::Inconclusive:
        ++c.inconclusive;
        break;
      case Outcome::Error:
        ++c.error;
        break;
      case Outcome::Skipped:
        ++c.skipped;
        break;
    }
  }
  return c;
}

int run_exit_code(const RunResult& r, bool strict) {
  const OutcomeCounts c = count_outcomes(r);
  if (c.fail > 0 || c.error > 0) return 1;
  if (strict && c.inconclusive > 0) return 1;
  return 0;
}

}  // namespace moeprobe
