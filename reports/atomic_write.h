// Writing reports so that a reader never sees a partial file and a failure never loses an earlier
// report: every file is first written into a staging directory inside DIR, and only when all of
// them are complete are they renamed into place, each previous version kept aside until the last
// one is in. On any error the previous versions are restored, the staging directory removed and
// the error rethrown.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace moeprobe {

// A file to write: its name inside the directory and its content, or, for a file too large to
// hold in memory (results.json's tables file), a function that writes it at the path it is given.
struct OutputFile {
  std::string name;
  std::string content;
  std::function<void(const std::filesystem::path&)> write = nullptr;
};

// Creates dir if missing. Throws InputError naming the path when
// the directory cannot be created, a target exists and is not a regular file, or a file cannot
// be written.
// A target that is one of `inputs` (the files the command read) is refused before anything is
// written: an output never replaces its own input.
void write_files_atomically(const std::filesystem::path& dir, const std::vector<OutputFile>& files,
                            const std::vector<std::filesystem::path>& inputs = {});

}  // namespace moeprobe
