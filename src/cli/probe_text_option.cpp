#include "cli/probe_text_option.h"

#include "forward/forward.h"

#include <unistd.h>

#include <ostream>
#include <set>
#include <utility>

#include "metrics/metric.h"
#include "model/moe_model.h"
#include "probe/capture.h"
#include "util/data_dir.h"
#include "util/error.h"

namespace moeprobe::cli {
namespace {

namespace fs = std::filesystem;

enum class ProbeKind { None, Text, Tokens, Literal };

struct TextProbeRequest {
  ProbeKind kind = ProbeKind::None;
  fs::path file;
  std::string lines, lines_where, literal, origin;
};

// A probe file named by a suite: relative to the suite's directory, else to the data directory
// (so bundled suites can name "corpus/wikitext103_test.csv").
fs::path suite_relative(const std::string& name, const Suite& suite) {
  const fs::path p(name);
  if (p.is_absolute()) return p;
  const fs::path beside = suite.path.parent_path() / p;
  std::error_code ec;
  if (fs::exists(beside, ec)) return beside;
  try {
    const fs::path bundled = data_dir() / p;
    if (fs::exists(bundled, ec)) return bundled;
  } catch (const InputError&) {
  }
  return beside;  // missing: the error names the path next to the suite
}

std::string string_key(const nlohmann::json& probe, const char* key, const Suite& suite) {
  const auto& v = probe[key];
  if (!v.is_string() || v.get<std::string>().empty())
    throw InputError(suite.path.string(), std::string("probe.") + key,
                     "expected a non-empty string");
  return v.get<std::string>();
}

TextProbeRequest from_suite(const Suite& suite, const nlohmann::json& probe) {
  TextProbeRequest r;
  const std::string file = suite.path.string();
  r.origin = file + ": probe";
  if (probe.is_string()) {
    const std::string name = probe.get<std::string>();
    if (name == "long") {
      r.kind = ProbeKind::Text;
      r.file = data_dir() / kPaperLongInputFile;
      r.lines = kPaperLongInputLines;
    } else if (name == "short") {
      r.kind = ProbeKind::Literal;
      r.literal = kPaperShortInput;
    }
    return r;  // "synthetic" and other named probes are the activations input's
  }
  if (!probe.is_object()) return r;
  if (probe.contains("text")) {
    if (probe.contains("tokens"))
      throw InputError(file, "probe", "give probe.text or probe.tokens, not both");
    r.kind = ProbeKind::Text;
    r.file = suite_relative(string_key(probe, "text", suite), suite);
    if (probe.contains("lines")) {
      const auto& l = probe["lines"];
      if (l.is_string())
        r.lines = l.get<std::string>();
      else if (l.is_number_integer())
        r.lines = std::to_string(l.get<long long>());
      else
        throw InputError(file, "probe.lines", "expected a line selection such as \"1-10\"");
    }
    r.lines_where = file + ": probe.lines";
  } else if (probe.contains("tokens")) {
    r.kind = ProbeKind::Tokens;
    r.file = suite_relative(string_key(probe, "tokens", suite), suite);
  }
  return r;
}

}  // namespace

void add_probe_text_options(CLI::App* run, ProbeTextArgs& args) {
  auto* text = run->add_option("--probe-text", args.text,
                               "Probe text file, captured through the forward pass (one sequence "
                               "per usable line; overrides the suite's probe)");
  run->add_option("--probe-lines", args.lines, "Line selection of --probe-text (\"1-10\")")
      ->needs(text);
  run->add_option("--probe-tokens", args.tokens, "Token-ids file probe (one sequence per line)")
      ->excludes(text);
}

CapturedProbe::CapturedProbe(fs::path file, fs::path created_dir)
    : file_(std::move(file)), created_dir_(std::move(created_dir)) {}

CapturedProbe::~CapturedProbe() {
  std::error_code ec;
  fs::remove(file_, ec);
  if (!created_dir_.empty() && fs::is_empty(created_dir_, ec)) fs::remove(created_dir_, ec);
}

CapturedProbes::~CapturedProbes() {
  files.clear();
  std::error_code ec;
  if (!created_dir.empty() && fs::is_empty(created_dir, ec)) fs::remove(created_dir, ec);
}

namespace {

bool is_dynamic_hypothesis(const Hypothesis& h) {
  if (!h.metric_impl || !h.parsed) return false;
  for (const Need& n : h.metric_impl->needs(*h.parsed))
    if (is_dynamic(n.what)) return true;
  return false;
}

}  // namespace

CapturedProbes capture_text_probes(const ProbeTextArgs& args, const Suite& suite,
                                   const std::string& activations, const std::string& model_dir,
                                   const std::string& out_dir, std::ostream* log) {
  // The requests: the command line's one probe, or each distinct text probe of the suite.
  std::vector<std::pair<std::string, TextProbeRequest>> requests;  // key ("" = override)
  if (!args.text.empty() || !args.tokens.empty()) {
    if (!activations.empty())
      throw InputError("", "--activations",
                       "give --activations or --probe-text/--probe-tokens, not both");
    TextProbeRequest r;
    r.kind = args.text.empty() ? ProbeKind::Tokens : ProbeKind::Text;
    r.file = args.text.empty() ? args.tokens : args.text;
    r.lines = args.lines;
    r.lines_where = "--probe-lines";
    requests.emplace_back("", r);
  } else if (activations.empty()) {
    std::set<std::string> seen;
    for (const Hypothesis& h : suite.hypotheses) {
      if (!is_dynamic_hypothesis(h)) continue;
      const nlohmann::json& probe = suite.probe_of(h);
      const std::string key = probe.dump();
      if (!seen.insert(key).second) continue;
      TextProbeRequest r = from_suite(suite, probe);
      if (r.kind != ProbeKind::None) requests.emplace_back(key, r);
    }
    // The suite's text probes need the forward pass; without LibTorch the dynamic hypotheses
    // are SKIPPED (no probe) rather than failing the whole run.
    if (!requests.empty() && !forward_available()) {
      if (log)
        *log << "moeprobe: the suite's probe needs the forward pass (this build has no LibTorch); "
                "dynamic hypotheses are skipped (give --activations FILE|synthetic)\n";
      return {};
    }
  }
  CapturedProbes out;
  if (requests.empty()) return out;

  const auto model = MoeModel::open(model_dir);
  std::error_code ec;
  const fs::path dir(out_dir);
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      throw InputError(out_dir, "--out", "cannot create the report directory: " + ec.message());
    out.created_dir = dir;
  }
  for (const auto& [key, r] : requests) {
    ProbeSequences probe;
    switch (r.kind) {
      case ProbeKind::Text:
        probe = text_probe(model_dir, r.file, r.lines, r.lines_where);
        break;
      case ProbeKind::Tokens:
        probe = token_ids_probe(model_dir, r.file);
        break;
      case ProbeKind::Literal:
        probe = literal_probe(model_dir, r.literal, "short input \"" + r.literal + "\"");
        break;
      case ProbeKind::None:
        break;
    }
    out.files.push_back(std::make_unique<CapturedProbe>(
        dir / (".probe-activations-" + std::to_string(::getpid()) + "-" +
               std::to_string(out.files.size()) + ".safetensors"),
        fs::path()));
    const fs::path& file = out.files.back()->file();
    const CaptureSummary s = capture_activations(*model, model_dir, probe, file);
    if (log)
      *log << "moeprobe: probe " << probe.name << ": " << s.tokens << " tokens in " << s.sequences
           << " sequences captured at " << s.layers << " MoE layers\n";
    if (key.empty())
      out.override_file = file.string();
    else
      out.by_probe[key] = file;
  }
  return out;
}

}  // namespace moeprobe::cli
