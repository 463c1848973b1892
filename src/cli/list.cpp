// moeprobe list metrics|families|suites|recipes [--json] [--families DIR]: what moeprobe knows,
// one row each: name, the paper analysis it belongs to, a one-line description. Suites and recipes
// are the bundled ones (data_dir()/suites, data_dir()/recipes); families those of --families,
// $MOEPROBE_FAMILIES or the bundled configs.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "metrics/metric.h"
#include "model/family.h"
#include "suite/schema.h"
#include "synth/recipe.h"
#include "util/data_dir.h"
#include "util/error.h"
#include "util/registry.h"

namespace moeprobe::cli {
namespace {

namespace fs = std::filesystem;

struct Row {
  std::string name, analysis, description;
};

// Descriptions written as YAML blocks span lines; a listing shows one.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

struct ListOptions {
  std::string what;
  bool json = false;
  std::string families_dir;
};

// The YAML files of a bundled directory, sorted by name.
std::vector<fs::path> yaml_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

// "A1, A4" from a set of analyses.
std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::vector<Row> metric_rows(const ListOptions&) {
  std::vector<Row> rows;
  for (const Metric* m : all_metrics())
    rows.push_back({m->name(), m->analysis(), m->description()});
  return rows;
}

std::vector<Row> family_rows(const ListOptions& opts) {
  std::vector<Row> rows;
  const fs::path dir =
      opts.families_dir.empty() ? default_families_dir() : fs::path(opts.families_dir);
  for (const Family& f : load_families(dir)) rows.push_back({f.name, "", f.description});
  return rows;
}

std::vector<Row> suite_rows(const ListOptions&) {
  std::vector<Row> rows;
  for (const fs::path& path : yaml_files(data_subdir("suites"))) {
    const Suite suite = load_suite(path, find_metric);
    std::set<std::string> analyses;
    for (const Hypothesis& h : suite.hypotheses) analyses.insert(h.metric_impl->analysis());
    rows.push_back({suite.name, join(analyses), suite.description});
  }
  return rows;
}

// The first line of a file's leading '#' comment (recipes describe themselves there).
std::string leading_comment(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) break;
    line.erase(0, line.find_first_not_of("# "));
    if (!line.empty()) return line;
  }
  return "";
}

// A recipe's analyses: those of the hypotheses its `expect` map names ("a1-..." -> A1); its
// description: the `description` key, else the first line of its leading comment.
std::vector<Row> recipe_rows(const ListOptions&) {
  std::vector<Row> rows;
  for (const fs::path& path : yaml_files(data_subdir("recipes"))) {
    const synth::Recipe recipe = synth::load_recipe(path);
    std::set<std::string> analyses;
    for (const auto& [id, outcome] : recipe.expect) {
      std::string prefix = id.substr(0, id.find('-'));
      std::transform(prefix.begin(), prefix.end(), prefix.begin(), ::toupper);
      analyses.insert(prefix);
    }
    rows.push_back({path.stem().string(), join(analyses),
                    recipe.description.empty() ? leading_comment(path) : recipe.description});
  }
  return rows;
}

struct Listing {
  std::string name;
  std::vector<Row> (*rows)(const ListOptions&);
};

const std::vector<Listing>& listings() {
  static const std::vector<Listing> table = {
      {"metrics", metric_rows},
      {"families", family_rows},
      {"suites", suite_rows},
      {"recipes", recipe_rows},
  };
  return table;
}

void print_table(const std::vector<Row>& rows) {
  std::size_t name_w = 4, analysis_w = 8;
  for (const Row& r : rows) {
    name_w = std::max(name_w, r.name.size());
    analysis_w = std::max(analysis_w, r.analysis.size());
  }
  auto line = [&](const std::string& a, const std::string& b, const std::string& c) {
    std::cout << a << std::string(name_w - a.size() + 2, ' ') << b
              << std::string(analysis_w - b.size() + 2, ' ') << c << "\n";
  };
  line("name", "analysis", "description");
  for (const Row& r : rows) line(r.name, r.analysis.empty() ? "-" : r.analysis, r.description);
}

}  // namespace

CommandRun setup_list(CLI::App* sub) {
  auto opts = std::make_shared<ListOptions>();
  sub->add_option("WHAT", opts->what, "metrics, families, suites or recipes")->required();
  sub->add_flag("--json", opts->json, "Print a JSON array of {name, analysis, description}");
  sub->add_option("--families", opts->families_dir,
                  "Directory of family YAML files (default: bundled configs/families)");
  return [opts]() {
    const Listing* listing = find_entry(listings(), opts->what);
    if (!listing)
      throw InputError("list", opts->what, "expected one of " + entry_names(listings()));
    std::vector<Row> rows = listing->rows(*opts);
    for (Row& r : rows) r.description = one_line(r.description);
    if (opts->json) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const Row& r : rows)
        out.push_back({{"name", r.name}, {"analysis", r.analysis}, {"description", r.description}});
      std::cout << out.dump(2) << "\n";
    } else {
      print_table(rows);
    }
    return 0;
  };
}

}  // namespace moeprobe::cli
