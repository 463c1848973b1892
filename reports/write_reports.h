// Renders the report formats of a run and writes them atomically into one directory.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "suite/result.h"

namespace moeprobe {

// Formats: json (results.json), junit (junit.xml), md (summary.md), html (report.html).
// Throws InputError for an unknown format name.
std::set<std::string> parse_report_formats(const std::string& comma_list);
// `inputs`: the files the command read; a report that would replace one is refused.
void write_reports(const RunResult& r, const std::filesystem::path& dir,
                   const std::set<std::string>& formats,
                   const std::vector<std::filesystem::path>& inputs = {});

}  // namespace moeprobe
