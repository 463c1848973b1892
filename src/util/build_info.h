// The version and git revision moeprobe was built from (results.json, `--version`). Defined in
// one translation unit only, so a new commit recompiles that file and not the whole core.
#pragma once

namespace moeprobe {

const char* build_version();   // the project version, e.g. "0.1.0"
const char* build_revision();  // the short git revision at configure time, or "unknown"

}  // namespace moeprobe
