// junit.xml: one <testsuite> with one <testcase> per hypothesis, so CI systems show findings as
// tests. FAIL -> <failure>, ERROR -> <error>, INCONCLUSIVE and SKIPPED -> <skipped message=why>,
// WARN -> a passing test with the warning in <system-out>.
#pragma once

#include <string>

#include "suite/result.h"

namespace moeprobe {

std::string render_junit(const RunResult& r);
std::string xml_escape(const std::string& s);  // &, <, >, ", ' and control characters

}  // namespace moeprobe
