#include "probe/probe_source.h"

#include "model/moe_model.h"
#include "util/error.h"

namespace moeprobe {

namespace {

int64_t parse_count(const std::string& text, const std::string& file, const std::string& field) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v < 1)
    throw InputError(file, field, "expected a positive token count, got \"" + text + "\"");
  return v;
}

}  // namespace

ProbeSpec probe_spec_from_option(const std::string& value) {
  ProbeSpec s;
  s.origin = "--activations";
  if (value.empty()) return s;
  if (value == "synthetic" || value.rfind("synthetic:", 0) == 0) {
    s.kind = ProbeSpec::Kind::Synthetic;
    if (value.size() > 10) s.tokens = parse_count(value.substr(10), "", "--activations");
    return s;
  }
  s.kind = ProbeSpec::Kind::File;
  s.file = value;
  return s;
}

ProbeSpec probe_spec_from_suite(const nlohmann::json& probe, const std::filesystem::path& suite) {
  ProbeSpec s;
  const std::string file = suite.string();
  s.origin = file + ": probe";
  if (probe.is_null()) return s;
  if (probe.is_string()) {
    if (probe.get<std::string>() == "synthetic") s.kind = ProbeSpec::Kind::Synthetic;
    return s;  // other strings (a named text probe) are not activations
  }
  if (!probe.is_object()) return s;
  if (probe.contains("activations")) {
    const auto& a = probe["activations"];
    if (!a.is_string() || a.get<std::string>().empty())
      throw InputError(file, "probe.activations", "expected the path of an activations file");
    s.kind = ProbeSpec::Kind::File;
    s.file = a.get<std::string>();
    if (s.file.is_relative()) s.file = suite.parent_path() / s.file;
    return s;
  }
  if (probe.contains("synthetic")) {
    const auto& g = probe["synthetic"];
    s.kind = ProbeSpec::Kind::Synthetic;
    if (g.is_null() || (g.is_boolean() && g.get<bool>())) return s;
    if (!g.is_object())
      throw InputError(file, "probe.synthetic", "expected {tokens, seed, sequences} or true");
    for (const auto& [key, v] : g.items()) {
      const std::string field = "probe.synthetic." + key;
      if (key != "tokens" && key != "seed" && key != "sequences")
        throw InputError(file, field, "unknown key (expected tokens, seed, sequences)");
      if (!v.is_number_integer() || v.get<long long>() < (key == "seed" ? 0 : 1))
        throw InputError(
            file, field,
            key == "seed" ? "expected a non-negative integer" : "expected a positive integer");
    }
    s.tokens = g.value("tokens", s.tokens);
    s.seed = g.value("seed", s.seed);
    s.sequences = g.value("sequences", s.sequences);
  }
  return s;
}

std::unique_ptr<ProbeActivations> open_probe(const ProbeSpec& spec, const MoeModel& model,
                                             const std::vector<int>& layers) {
  switch (spec.kind) {
    case ProbeSpec::Kind::None:
      return nullptr;
    case ProbeSpec::Kind::File:
      return ProbeActivations::open(spec.file, model.config().hidden_size, layers);
    case ProbeSpec::Kind::Synthetic:
      return ProbeActivations::synthetic(model, spec.tokens, spec.seed, spec.sequences);
  }
  return nullptr;
}

}  // namespace moeprobe
