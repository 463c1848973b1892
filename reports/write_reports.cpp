#include "reports/write_reports.h"

#include <algorithm>

#include "reports/atomic_write.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_report.h"
#include "util/error.h"
#include "util/registry.h"

namespace moeprobe {

const std::vector<ReportFormat>& report_formats() {
  static const std::vector<ReportFormat> table = {
      {"json",
       {},
       "results.json",
       "the full result (reports/results.schema.json)",
       render_results_json},
      {"junit",
       {"xml"},
       "junit.xml",
       "one JUnit testcase per hypothesis, for CI test views",
       render_junit},
      {"md", {"markdown"}, "summary.md", "a GitHub-flavoured summary table", render_markdown},
      {"html", {}, "report.html", "a self-contained page with per-layer plots", render_html},
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
  std::vector<std::pair<std::string, std::string>> files;
  for (const ReportFormat& f : report_formats())
    if (formats.count(f.name)) files.push_back({f.file, f.render(r)});
  write_files_atomically(dir, files, inputs);
}

}  // namespace moeprobe
