// The report formats, each described once (name, file, renderer), and writing a run's reports
// atomically into one directory. A new format is one entry in report_formats()
// (reports/write_reports.cpp) plus its renderer file.
#pragma once

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "reports/atomic_write.h"
#include "suite/result.h"

namespace moeprobe {

struct ReportFormat {
  std::string name;                  // --format NAME
  std::vector<std::string> aliases;  // also accepted by --format
  std::string file;                  // written into the output directory
  std::string description;           // one line
  // `file` and any file beside it (results.json's tables file), rendered from a result that
  // outlives them (a file streamed when written may refer into it).
  std::function<std::vector<OutputFile>(const RunResult&)> render;
};

// json (results.json and tables.safetensors), junit (junit.xml), md (summary.md), html
// (report.html), in that order.
const std::vector<ReportFormat>& report_formats();
// Every format's name: what `run` writes.
std::set<std::string> all_report_formats();
// A comma list of names or aliases. Throws InputError for an unknown format name.
std::set<std::string> parse_report_formats(const std::string& comma_list);
// `inputs`: the files the command read; a report that would replace one is refused.
void write_reports(const RunResult& r, const std::filesystem::path& dir,
                   const std::set<std::string>& formats,
                   const std::vector<std::filesystem::path>& inputs = {});

}  // namespace moeprobe
