// The subcommands (the registry style of src/util/registry.h): one file per subcommand in
// src/cli/ defines its setup function, and src/cli/commands.cpp lists it once with its name and
// one-line description. main() creates each CLI11 subcommand from the table and calls its setup,
// which adds the options and returns the function to run when the subcommand is chosen.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moeprobe::cli {

using CommandRun = std::function<int()>;
using CommandSetup = CommandRun (*)(CLI::App* sub);

struct Command {
  std::string name;
  std::string description;  // one line, shown by --help
  CommandSetup setup;
};

// In --help order.
const std::vector<Command>& command_registry();

CommandRun setup_inspect(CLI::App* sub);
CommandRun setup_run(CLI::App* sub);
CommandRun setup_forward(CLI::App* sub);
CommandRun setup_capture(CLI::App* sub);
CommandRun setup_synth(CLI::App* sub);
CommandRun setup_tokenize(CLI::App* sub);
CommandRun setup_compare(CLI::App* sub);
CommandRun setup_report(CLI::App* sub);
CommandRun setup_list(CLI::App* sub);
CommandRun setup_perf_gate(CLI::App* sub);

}  // namespace moeprobe::cli
