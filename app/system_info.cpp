// `arioso info --system`: the machine as arioso sees it (CPU, BLAS kernels, threads).
#include <thread>

#include <fmt/format.h>

#include "core/blas.h"

namespace arioso::app {

std::string system_report_text() {
  BlasChoice c = configure_openblas();
  std::string out;
  out += fmt::format("cpu: {} ({} hardware threads)\n", c.cpu_model.empty() ? "unknown" : c.cpu_model,
                     std::thread::hardware_concurrency());
  out += fmt::format("blas library: {}\n", c.library.empty() ? "not found" : c.library);
  out += fmt::format("openblas core (own choice): {}\n", c.detected_core.empty() ? "-" : c.detected_core);
  if (!c.preset_env.empty()) out += fmt::format("OPENBLAS_CORETYPE (already set): {}\n", c.preset_env);
  out += fmt::format("openblas core used: {}\n", !c.chosen.empty() ? c.chosen : (!c.preset_env.empty() ? c.preset_env : c.detected_core));
  out += fmt::format("blas: {}\n", c.note);
  return out;
}

}  // namespace arioso::app
