// The model commands (train, generate, evaluate, demo, serve; one file each under app/neural/),
// built as libarioso_neural.so and opened by `arioso` only when one of them runs, so that the
// other commands never load libtorch. Here: which command, and the exit code for each failure.
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <exception>
#include <string>

#include "app/neural/neural.h"
#include "core/error.h"

using namespace arioso;
using namespace arioso::neural_app;

extern "C" __attribute__((visibility("default"))) int arioso_neural_main(int argc, char** argv) {
  // argv: arioso <command> args...; each command parses from its own name on.
  std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "train") return cmd_train(argc - 1, argv + 1);
    if (cmd == "generate") return cmd_generate(argc - 1, argv + 1);
    if (cmd == "evaluate") return cmd_evaluate(argc - 1, argv + 1);
    if (cmd == "demo") return cmd_demo(argc - 1, argv + 1);
    if (cmd == "serve") return cmd_serve(argc - 1, argv + 1);
    if (cmd == "infill") return cmd_infill(argc - 1, argv + 1);
    if (cmd == "accompany") return cmd_accompany(argc - 1, argv + 1);
  } catch (const ConfigError& e) {
    fmt::print(stderr, "arioso {}: {}\n", cmd, e.what());
    return 2;
  } catch (const Error& e) {
    fmt::print(stderr, "\narioso {}: {}\n", cmd, e.what());
    return 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "\narioso {}: libtorch: {}\n", cmd, e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {  // filesystem, json, ...: never std::terminate
    fmt::print(stderr, "\narioso {}: {}\n", cmd, e.what());
    return 1;
  } catch (...) {
    fmt::print(stderr, "\narioso {}: an unexpected error (not a standard exception)\n", cmd);
    return 1;
  }
  fmt::print(stderr, "arioso: unknown model command '{}'\n", cmd);
  return 2;
}
