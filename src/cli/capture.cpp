// moeprobe capture MODEL_DIR (--text FILE [--lines SPEC] | --tokens-file F) --out ACTS.safetensors:
// the input of every MoE layer for a probe (src/probe/capture.h has the file format).
#include <iostream>

#include "cli/command.h"
#include "cli/model_options.h"
#include "forward/forward.h"
#include "probe/capture.h"
#include "util/error.h"
#include "util/progress.h"

namespace moeprobe::cli {
namespace {

struct CaptureCliOptions {
  ModelOptions model;
  std::string text, lines, tokens_file, out;
};

}  // namespace

CommandRun setup_capture(CLI::App* sub) {
  auto o = std::make_shared<CaptureCliOptions>();
  o->model.add_to(sub);
  auto* text = sub->add_option("--text", o->text,
                               "Probe text file: one sequence per usable line (non-empty, not "
                               "starting with \"=\"); .csv: its first column");
  sub->add_option("--lines", o->lines,
                  "Line selection over the usable lines, 1-based: \"1-10\", \"3,5,8-\" "
                  "(default: all)")
      ->needs(text);
  auto* tokens = sub->add_option("--tokens-file", o->tokens_file,
                                 "Token ids, one sequence per line (spaces or commas)");
  text->excludes(tokens);
  sub->add_option("--out", o->out, "Activations file to write (safetensors)")->required();
  return [o]() {
    if (o->text.empty() && o->tokens_file.empty())
      throw InputError("", "--text", "give a probe: --text FILE or --tokens-file FILE");
    require_forward();
    const auto model = o->model.open();
    const std::string& dir = o->model.model_dir;
    const ProbeSequences probe =
        o->text.empty() ? token_ids_probe(dir, o->tokens_file) : text_probe(dir, o->text, o->lines);
    const CaptureSummary s =
        capture_activations(*model, dir, probe, o->out, stderr_progress_sink());
    std::cerr << "moeprobe: wrote " << o->out << ": " << s.tokens << " tokens in " << s.sequences
              << " sequences (" << s.bos_tokens << " BOS), " << s.layers << " MoE layers of "
              << s.hidden << "\n";
    return 0;
  };
}

}  // namespace moeprobe::cli
