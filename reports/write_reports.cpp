#include "reports/write_reports.h"

#include "reports/atomic_write.h"
#include "reports/html_report.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/markdown_report.h"
#include "util/error.h"

namespace moeprobe {

std::set<std::string> parse_report_formats(const std::string& list) {
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos <= list.size()) {
    const std::size_t comma = list.find(',', pos);
    std::string f = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    f.erase(0, f.find_first_not_of(' '));
    f.erase(f.find_last_not_of(' ') + 1);
    if (f == "markdown") f = "md";
    if (f == "xml") f = "junit";
    if (f != "json" && f != "junit" && f != "md" && f != "html")
      throw InputError("--format", f,
                       "unknown report format; expected a comma list of json, junit, md, html");
    out.insert(f);
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
  if (formats.count("json")) files.push_back({"results.json", render_results_json(r)});
  if (formats.count("junit")) files.push_back({"junit.xml", render_junit(r)});
  if (formats.count("md")) files.push_back({"summary.md", render_markdown(r)});
  if (formats.count("html")) files.push_back({"report.html", render_html(r)});
  write_files_atomically(dir, files, inputs);
}

}  // namespace moeprobe
