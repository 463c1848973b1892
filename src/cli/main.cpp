// moeprobe: entry point. Parses the command line, runs the chosen subcommand and maps errors to
// the exit codes of docs/ARCHITECTURE.md: InputError, YAML and usage errors are bad input (2);
// every other exception is a bug in moeprobe (3).
#include <iostream>
#include <map>

#include <yaml-cpp/yaml.h>

#include "cli/command.h"
#include "util/blas_kernels.h"
#include "util/build_info.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/registry.h"

int main(int argc, char** argv) {
  using namespace moeprobe;
  rerun_with_better_blas_kernels(argv);  // before anything else: it may start the process again
  CLI::App app{"moeprobe: checks findings about Mixture-of-Experts models, in CI"};
  app.set_version_flag("--version", std::string(build_version()) + " (" + build_revision() +
                                        ")\nBLAS: " + blas_description());
  app.require_subcommand(1);
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress on stderr (errors and notices still print)");
  app.fallthrough();  // also after the subcommand: `moeprobe run ... --quiet`

  std::map<CLI::App*, cli::CommandRun> runs;
  for (const cli::Command& command : cli::command_registry()) {
    CLI::App* sub = app.add_subcommand(command.name, command.description);
    runs[sub] = command.setup(sub);
  }

  // An unknown subcommand is a usage error (exit 2) that names what was expected.
  if (argc > 1 && argv[1][0] != '-' && !find_entry(cli::command_registry(), argv[1])) {
    std::cerr << "error: unknown subcommand '" << argv[1] << "'; expected one of "
              << entry_names(cli::command_registry()) << " (see --help)\n";
    return kExitBadInput;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; real usage errors map to 2.
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  set_progress_mode(progress_mode_for_stderr(quiet));
  try {
    for (auto* sub : app.get_subcommands()) {
      auto it = runs.find(sub);
      if (it != runs.end()) return it->second();
    }
    std::cerr << "moeprobe: no subcommand given (see --help)\n";
    return kExitBadInput;
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const YAML::Exception& e) {
    std::cerr << "error: YAML: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "internal error (a bug in moeprobe, please report it): " << e.what() << "\n";
    return kExitInternalError;
  } catch (...) {
    std::cerr << "internal error (a bug in moeprobe, please report it): unknown exception\n";
    return kExitInternalError;
  }
}
