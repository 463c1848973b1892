// Where moeprobe's loadable modules live (PREFIX/<libdir>/moeprobe/, mirrored by the build tree):
// found at run time like the data directory (util/data_dir.h), so a moved install still works.
#pragma once

#include <filesystem>
#include <string>

namespace moeprobe {

// The module file `file_name`, first of:
//   1. <directory of the running executable>/<bindir → libdir/moeprobe> (moeprobe, its tests and
//      benchmarks, installed or in the build tree);
//   2. data_dir()/<datadir/moeprobe → libdir/moeprobe> (a program embedding the library, with
//      MOEPROBE_DATA_DIR pointing at the installed share/moeprobe).
// Throws InputError naming the paths tried when neither exists.
std::filesystem::path module_path(const std::string& file_name);

}  // namespace moeprobe
