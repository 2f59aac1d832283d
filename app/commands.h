// The subcommands of `arioso`: each registers its options on the CLI11 app and returns the
// function that runs it. Only app/ parses arguments, prints and picks exit codes.
#pragma once
#include <functional>

#include <CLI/CLI.hpp>

namespace arioso::app {

/// Runs a parsed subcommand and returns the process exit status.
using Runner = std::function<int()>;

Runner add_info(CLI::App& app);
Runner add_tokens(CLI::App& app);
Runner add_detokenize(CLI::App& app);
Runner add_prepare(CLI::App& app);
Runner add_analyze(CLI::App& app);

}  // namespace arioso::app
