#include "synth/staged_directory.h"

#include <unistd.h>

#include <string>

#include "util/error.h"

namespace moeprobe::synth {

namespace fs = std::filesystem;

StagedDirectory::StagedDirectory(const fs::path& target) : target_(target) {
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tag = "." + target.filename().string() + ".synth-" + std::to_string(::getpid());
  path_ = parent / (tag + "-tmp");
  old_ = parent / (tag + "-old");
  std::error_code ec;
  fs::remove_all(path_, ec);
  fs::remove_all(old_, ec);
}

StagedDirectory::~StagedDirectory() {
  std::error_code ec;
  if (!committed_) fs::remove_all(path_, ec);
  fs::remove_all(old_, ec);
}

void StagedDirectory::commit() {
  std::error_code ec;
  if (fs::exists(target_, ec)) fs::rename(target_, old_, ec);
  if (ec) throw InputError(target_.string(), "--out", "cannot replace it: " + ec.message());
  fs::rename(path_, target_, ec);
  if (ec) {
    std::error_code restore;
    if (fs::exists(old_, restore)) fs::rename(old_, target_, restore);
    throw InputError(target_.string(), "--out",
                     "cannot move the model into place: " + ec.message());
  }
  committed_ = true;
}

}  // namespace moeprobe::synth
