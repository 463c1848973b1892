#include "reports/atomic_write.h"

#include <unistd.h>

#include <fstream>
#include <system_error>

#include "util/error.h"
#include "util/input_file.h"

namespace moeprobe {

namespace fs = std::filesystem;

namespace {

// DIR/.moeprobe-write-PID: beside the targets (same file system, so renames are atomic), removed
// with whatever is left in it when the write ends, successful or not.
class StagingDir {
 public:
  explicit StagingDir(const fs::path& dir)
      : path_(dir / (".moeprobe-write-" + std::to_string(::getpid()))) {
    std::error_code ec;
    fs::remove_all(path_, ec);
    fs::create_directory(path_, ec);
    if (ec)
      throw InputError(path_.string(), "--out",
                       "cannot create a staging directory: " + ec.message());
  }
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

void write_files_atomically(const fs::path& dir, const std::vector<OutputFile>& files,
                            const std::vector<fs::path>& inputs) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw InputError(dir.string(), "--out", "exists and is not a directory");
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw InputError(dir.string(), "--out", "cannot create the output directory: " + ec.message());
  // Nothing is touched unless every target is absent or a regular file we may replace.
  for (const OutputFile& f : files) {
    const fs::path target = dir / f.name;
    const fs::file_status st = fs::symlink_status(target, ec);
    if (fs::exists(st) && !fs::is_regular_file(st))
      throw InputError(target.string(), "--out", "exists and is not a regular file");
    for (const auto& in : inputs)
      if (!in.empty() && fs::exists(in, ec) && is_inside(in, target))
        throw InputError(target.string(), "--out",
                         "is the input " + in.string() + "; choose an output that is not an input");
  }

  const StagingDir staging(dir);
  for (const OutputFile& f : files) {
    const fs::path tmp = staging.path() / f.name;
    if (f.write) {
      f.write(tmp);
      continue;
    }
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(f.content.data(), static_cast<std::streamsize>(f.content.size()));
    out.close();
    if (!out) throw InputError(tmp.string(), "--out", "cannot write the report file");
  }
  // Swap in one file at a time, keeping the previous version until every file is in place; on a
  // failure the previous versions come back, so an earlier good report is never lost.
  struct Swapped {
    fs::path target, backup;
    bool had_old;
  };
  std::vector<Swapped> done;
  try {
    for (const OutputFile& f : files) {
      const fs::path target = dir / f.name, backup = staging.path() / (f.name + ".previous");
      const bool had_old = fs::exists(fs::symlink_status(target, ec));
      if (had_old) {
        fs::rename(target, backup, ec);
        if (ec) throw InputError(target.string(), "--out", "cannot replace it: " + ec.message());
      }
      done.push_back({target, backup, had_old});
      fs::rename(staging.path() / f.name, target, ec);
      if (ec)
        throw InputError(target.string(), "--out",
                         "cannot move the report into place: " + ec.message());
    }
  } catch (...) {
    std::error_code ignore;
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      if (it->had_old)
        fs::rename(it->backup, it->target, ignore);
      else
        fs::remove(it->target, ignore);
    }
    throw;
  }
}

}  // namespace moeprobe
