#include "reports/write_reports.h"

#include <algorithm>
#include <memory>

#include "reports/atomic_write.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_report.h"
#include "util/error.h"
#include "util/registry.h"

namespace moeprobe {

namespace {

// A format of one file.
template <std::string (*Render)(const RunResult&)>
std::vector<OutputFile> one_file(const std::string& name, const RunResult& r) {
  return {{name, Render(r)}};
}

// results.json, and its tables file streamed from the result's tables when written.
std::vector<OutputFile> results_files(const RunResult& r) {
  ResultsDocument doc = results_document(r);
  auto tables = std::make_shared<TablesFileWriter>(std::move(doc.tables));
  return {{"results.json", render_results_json(std::move(doc))},
          {kTablesFileName, "", [tables](const std::filesystem::path& p) { tables->write(p); }}};
}

}  // namespace

const std::vector<ReportFormat>& report_formats() {
  static const std::vector<ReportFormat> table = {
      {"json",
       {},
       "results.json",
       "the full result (reports/results.schema.json), its numeric tables in " +
           std::string(kTablesFileName),
       results_files},
      {"junit",
       {"xml"},
       "junit.xml",
       "one JUnit testcase per hypothesis, for CI test views",
       [](const RunResult& r) { return one_file<render_junit>("junit.xml", r); }},
      {"md",
       {"markdown"},
       "summary.md",
       "a GitHub-flavoured summary table",
       [](const RunResult& r) { return one_file<render_markdown>("summary.md", r); }},
      {"html",
       {},
       "report.html",
       "a self-contained page with per-layer plots",
       [](const RunResult& r) { return one_file<render_html>("report.html", r); }},
  };
  return table;
}

std::set<std::string> all_report_formats() {
  std::set<std::string> out;
  for (const ReportFormat& f : report_formats()) out.insert(f.name);
  return out;
}

std::set<std::string> parse_report_formats(const std::string& list) {
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const std::size_t comma = list.find(',', pos);
    std::string f = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    f.erase(0, f.find_first_not_of(' '));
    f.erase(f.find_last_not_of(' ') + 1);
    const ReportFormat* format = nullptr;
    for (const ReportFormat& candidate : report_formats())
      if (candidate.name == f ||
          std::count(candidate.aliases.begin(), candidate.aliases.end(), f) > 0)
        format = &candidate;
    if (!format)
      throw InputError(
          "--format", f,
          "unknown report format; expected a comma list of " + entry_names(report_formats()));
    out.insert(format->name);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

void write_reports(const RunResult& r, const std::filesystem::path& dir,
                   const std::set<std::string>& formats,
                   const std::vector<std::filesystem::path>& inputs) {
  // Everything is rendered in memory first, so a rendering error leaves no file at all.
  // (The tables file is encoded from the result, table by table, as it is staged.)
  std::vector<OutputFile> files;
  for (const ReportFormat& f : report_formats())
    if (formats.count(f.name))
      for (OutputFile& out : f.render(r)) files.push_back(std::move(out));
  write_files_atomically(dir, files, inputs);
}

}  // namespace moeprobe
