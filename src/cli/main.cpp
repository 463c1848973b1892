// moeprobe: entry point. Parses the command line, runs the chosen subcommand and maps errors to
// the exit codes of docs/ARCHITECTURE.md: InputError, YAML and usage errors are bad input (2);
// every other exception is a bug in moeprobe (3).
#include <algorithm>
#include <iostream>
#include <map>

#include <yaml-cpp/yaml.h>

#include "cli/command.h"
#include "util/error.h"

namespace moeprobe::cli {

std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}

CommandRegistrar::CommandRegistrar(int order, CommandSetup setup) {
  registered_commands().push_back({order, std::move(setup)});
}

}  // namespace moeprobe::cli

int main(int argc, char** argv) {
  using namespace moeprobe;
  CLI::App app{"moeprobe: checks findings about Mixture-of-Experts models, in CI"};
  app.set_version_flag("--version", std::string(MOEPROBE_VERSION) + " (" MOEPROBE_GIT_REVISION ")");
  app.require_subcommand(1);

  auto commands = cli::registered_commands();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  std::map<CLI::App*, cli::CommandRun> runs;
  for (const auto& command : commands) {
    const std::size_t before = app.get_subcommands({}).size();
    cli::CommandRun run = command.setup(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runs[subs.back()] = std::move(run);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; real usage errors map to 2.
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

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
