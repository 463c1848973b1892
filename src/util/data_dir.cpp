// Resolving the bundled data directory at run time (see data_dir.h for the order).
#include "util/data_dir.h"

#include <cstdlib>
#include <system_error>

#include "util/error.h"

namespace moeprobe {
namespace {

namespace fs = std::filesystem;

const char* env_value(const char* name) {
  const char* v = name ? std::getenv(name) : nullptr;
  return v && *v ? v : nullptr;
}

// The running executable, from the kernel (argv[0] may be relative or a name found on PATH).
fs::path executable_path() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe;
}

}  // namespace

fs::path data_dir() {
  if (const char* env = env_value("MOEPROBE_DATA_DIR")) {
    if (!fs::is_directory(env))
      throw InputError(env, "$MOEPROBE_DATA_DIR",
                       "not a directory (it should hold moeprobe's families/, suites/, ...)");
    return env;
  }
  const fs::path exe = executable_path();
  if (exe.empty())
    throw InputError("/proc/self/exe", "",
                     "cannot find the running executable to locate moeprobe's "
                     "data; set MOEPROBE_DATA_DIR to the share/moeprobe directory");
  const fs::path dir = (exe.parent_path() / ".." / "share" / "moeprobe").lexically_normal();
  if (!fs::is_directory(dir))
    throw InputError(dir.string(), "",
                     "moeprobe's data directory is missing (looked for it relative to " +
                         exe.string() +
                         "); install moeprobe with `cmake --install`, or set MOEPROBE_DATA_DIR "
                         "to a share/moeprobe directory");
  return dir;
}

fs::path data_subdir(const std::string& name, const char* env_override) {
  if (const char* env = env_value(env_override)) return env;
  const fs::path dir = data_dir() / name;
  if (!fs::is_directory(dir))
    throw InputError(dir.string(), "", "moeprobe's bundled " + name + "/ directory is missing");
  return dir;
}

}  // namespace moeprobe
