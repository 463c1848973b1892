// report.html: one self-contained page (no scripts, no external assets) with the hypothesis table
// and, per hypothesis, an inline SVG of its per-layer values with the threshold drawn across.
#pragma once

#include <string>

#include "suite/result.h"

namespace moeprobe {

std::string render_html(const RunResult& r);

}  // namespace moeprobe
