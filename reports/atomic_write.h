// Writing reports so that a reader never sees a partial file: every file is first written to
// DIR/.NAME.tmp, and only when all of them are complete are they renamed into place. On any error
// the temporary files (and files already renamed by this call) are removed and the error rethrown.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace moeprobe {

// (file name inside dir, content). Creates dir if missing. Throws InputError naming the path when
// the directory cannot be created or a file cannot be written.
void write_files_atomically(const std::filesystem::path& dir,
                            const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace moeprobe
