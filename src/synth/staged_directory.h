// A staging directory beside a target directory: synth writes the model there and renames it into
// place at the end, so a failure leaves the target as it was.
#pragma once

#include <filesystem>

namespace moeprobe::synth {

// Removed on destruction unless committed.
class StagedDirectory {
 public:
  explicit StagedDirectory(const std::filesystem::path& target);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Moves the staged model into place; a previous model there is replaced only now.
  void commit();

 private:
  std::filesystem::path target_, path_, old_;
  bool committed_ = false;
};

}  // namespace moeprobe::synth
