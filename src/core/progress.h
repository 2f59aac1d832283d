// Progress reporting from long library work to whoever renders it (app/ draws the bar).
// Libraries call the callback; they never print.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace arioso {

/// One progress update: `done` of `total` units (total 0 = unknown) and a short status text.
struct Progress {
  std::string label;      ///< what is being done ("prepare", "epoch 3/20")
  std::int64_t done = 0;  ///< units finished
  std::int64_t total = 0; ///< units in all, 0 when unknown
  std::string unit;       ///< "files", "steps", "notes"
  std::string status;     ///< extra text, e.g. "loss 2.31 · 5,120 tok/s"
  bool finished = false;  ///< the last update of this task
};

using ProgressFn = std::function<void(const Progress&)>;

}  // namespace arioso
