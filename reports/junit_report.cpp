#include "reports/junit_report.h"

#include <cstdio>
#include <sstream>

namespace moeprobe {

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += static_cast<char>(c);
        break;
      default:
        // XML 1.0 forbids other control characters even as references: replace them.
        if (c < 0x20)
          out += "?";
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

std::string describe(const HypothesisResult& h) {
  std::ostringstream o;
  o << h.metric << " " << h.aggregate.to_string() << " = " << format_number(h.value) << ", "
    << (h.level * 100) << "% interval [" << format_number(h.lo) << ", " << format_number(h.hi)
    << "], expected " << h.threshold.to_string();
  return o.str();
}

}  // namespace

std::string render_junit(const RunResult& r) {
  const OutcomeCounts c = count_outcomes(r);
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"moeprobe\" tests=\"" << r.hypotheses.size() << "\" failures=\"" << c.fail
    << "\" errors=\"" << c.error << "\" skipped=\"" << (c.inconclusive + c.skipped) << "\">\n";
  o << "  <testsuite name=\"" << xml_escape(r.suite_name) << "\" tests=\"" << r.hypotheses.size()
    << "\" failures=\"" << c.fail << "\" errors=\"" << c.error << "\" skipped=\""
    << (c.inconclusive + c.skipped) << "\">\n";
  o << "    <properties>\n";
  auto prop = [&](const std::string& k, const std::string& v) {
    o << "      <property name=\"" << xml_escape(k) << "\" value=\"" << xml_escape(v) << "\"/>\n";
  };
  prop("model", r.model.path);
  prop("family", r.model.family);
  prop("backend", r.environment.backend);
  prop("device", r.environment.device);
  prop("moeprobe", r.environment.version + " (" + r.environment.git_revision + ")");
  o << "    </properties>\n";
  for (const auto& h : r.hypotheses) {
    o << "    <testcase classname=\"" << xml_escape(r.suite_name) << "\" name=\""
      << xml_escape(h.id) << "\"";
    const std::string text = xml_escape(describe(h));
    const std::string reason = xml_escape(h.reason);
    switch (h.outcome) {
      case Outcome::Pass:
        o << "/>\n";
        continue;
      case Outcome::Fail:
        o << ">\n      <failure message=\"" << reason << "\" type=\"FAIL\">" << text
          << "</failure>\n";
        break;
      case Outcome::Error:
        o << ">\n      <error message=\"" << reason << "\" type=\"ERROR\">" << xml_escape(h.finding)
          << "</error>\n";
        break;
      case Outcome::Inconclusive:
      case Outcome::Skipped:
        o << ">\n      <skipped message=\""
          << xml_escape(std::string(outcome_name(h.outcome)) + ": " + h.reason) << "\"/>\n";
        break;
      case Outcome::Warn:
        o << ">\n      <system-out>WARN: " << reason << "; " << text << "</system-out>\n";
        break;
    }
    o << "    </testcase>\n";
  }
  o << "  </testsuite>\n</testsuites>\n";
  return o.str();
}

}  // namespace moeprobe
