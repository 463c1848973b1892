// Resolving a bundled module at run time (see module_path.h for the order). The two relative
// directories come from the build (GNUInstallDirs), so nothing absolute is compiled in.
#include "util/module_path.h"

#include <system_error>

#include "util/data_dir.h"
#include "util/error.h"

#ifndef MOEPROBE_MODULE_DIR_FROM_BIN
#define MOEPROBE_MODULE_DIR_FROM_BIN "../lib/moeprobe"
#endif
#ifndef MOEPROBE_MODULE_DIR_FROM_DATA
#define MOEPROBE_MODULE_DIR_FROM_DATA "../../lib/moeprobe"
#endif

namespace moeprobe {

namespace fs = std::filesystem;

fs::path module_path(const std::string& file_name) {
  std::string tried;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path p =
        (exe.parent_path() / MOEPROBE_MODULE_DIR_FROM_BIN / file_name).lexically_normal();
    if (fs::is_regular_file(p, ec)) return p;
    tried = p.string();
  }
  try {
    const fs::path p = (data_dir() / MOEPROBE_MODULE_DIR_FROM_DATA / file_name).lexically_normal();
    if (fs::is_regular_file(p, ec)) return p;
    tried += (tried.empty() ? "" : ", ") + p.string();
  } catch (const InputError&) {
    // No data directory either: report the executable-relative path alone.
  }
  throw InputError(file_name, "",
                   "moeprobe's module is missing (looked for " + tried +
                       "); install moeprobe with `cmake --install`, or set MOEPROBE_DATA_DIR to "
                       "the installed share/moeprobe directory");
}

}  // namespace moeprobe
