// Where moeprobe's bundled data lives (families/, suites/, recipes/, corpus/ and any other
// configs/<name>/ of the source tree). It is found at run time, relative to the running executable,
// so an installed, moved or packaged binary works: no path of the source tree is compiled in.
#pragma once

#include <filesystem>
#include <string>

namespace moeprobe {

// The data root, first of:
//   1. $MOEPROBE_DATA_DIR, when set and non-empty;
//   2. <directory of the running executable>/../share/moeprobe: the installed layout
//      (PREFIX/bin/moeprobe, PREFIX/share/moeprobe/), which the build tree mirrors with links into
//      the source tree (build/bin/, build/share/moeprobe/).
// Throws InputError naming what was tried when neither is a directory.
std::filesystem::path data_dir();

// One bundled subdirectory: the directory named by the environment variable `env_override` when
// it is given, set and non-empty (used as is, even if missing, so the error names it), else
// data_dir()/name. Throws InputError when data_dir()/name is not a directory.
std::filesystem::path data_subdir(const std::string& name, const char* env_override = nullptr);

}  // namespace moeprobe
