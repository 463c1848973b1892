#include "reports/atomic_write.h"

#include <fstream>
#include <system_error>

#include "util/error.h"

namespace moeprobe {

namespace fs = std::filesystem;

void write_files_atomically(const fs::path& dir,
                            const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw InputError(dir.string(), "--out", "cannot create the output directory: " + ec.message());

  std::vector<fs::path> temps, done;
  auto cleanup = [&] {
    std::error_code ignore;
    for (const auto& t : temps) fs::remove(t, ignore);
    for (const auto& d : done) fs::remove(d, ignore);
  };
  try {
    for (const auto& [name, content] : files) {
      const fs::path tmp = dir / ("." + name + ".tmp");
      temps.push_back(tmp);
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      out.close();
      if (!out) throw InputError(tmp.string(), "--out", "cannot write the report file");
    }
    for (std::size_t i = 0; i < files.size(); ++i) {
      const fs::path target = dir / files[i].first;
      fs::rename(temps[i], target, ec);
      if (ec)
        throw InputError(target.string(), "--out",
                         "cannot move the report into place: " + ec.message());
      done.push_back(target);
    }
  } catch (...) {
    cleanup();
    throw;
  }
}

}  // namespace moeprobe
