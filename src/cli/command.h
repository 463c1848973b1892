// Subcommands register themselves here (one file per subcommand in src/cli/). Each adds a CLI11
// subcommand with its options and returns the function to run when it is chosen.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace moeprobe::cli {

using CommandRun = std::function<int()>;
using CommandSetup = std::function<CommandRun(CLI::App& app)>;

struct CommandRegistrar {
  // `order` sorts the subcommands in --help.
  CommandRegistrar(int order, CommandSetup setup);
};

struct RegisteredCommand {
  int order;
  CommandSetup setup;
};
std::vector<RegisteredCommand>& registered_commands();

}  // namespace moeprobe::cli
