#include "util/build_info.h"

namespace moeprobe {

// Both macros come from CMakeLists.txt, on this file only.
const char* build_version() {
  return MOEPROBE_VERSION;
}
const char* build_revision() {
  return MOEPROBE_GIT_REVISION;
}

}  // namespace moeprobe
