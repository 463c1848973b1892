// summary.md: a GitHub-flavoured Markdown table of the hypotheses (outcome, value, interval,
// threshold, the paper's values), for a CI job summary or a pull-request comment; then one
// collapsed <details> block per FAILed or ERRORed hypothesis with its per-layer values.
#pragma once

#include <string>

#include "suite/result.h"

namespace moeprobe {

std::string render_markdown(const RunResult& r);
std::string outcome_emoji(Outcome o);
// Escapes '|' and newlines so text stays inside one table cell.
std::string markdown_cell(const std::string& s);

}  // namespace moeprobe
