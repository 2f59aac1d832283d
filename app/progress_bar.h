// Renders arioso::Progress updates: a bar with rate and ETA on a terminal, plain lines
// otherwise (one line per tenth of the work, so logs stay short).
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "core/progress.h"

namespace arioso::app {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out = stderr) : out_(out), tty_(isatty(fileno(out)) != 0) {}

  void operator()(const Progress& p) {
    auto now = std::chrono::steady_clock::now();
    if (p.label != label_) {
      label_ = p.label;
      start_ = now;
      last_draw_ = now - std::chrono::seconds(1);
      next_plain_tenth_ = 1;
    }
    double elapsed = std::chrono::duration<double>(now - start_).count();
    double rate = elapsed > 0 ? static_cast<double>(p.done) / elapsed : 0.0;
    std::string eta = "?";
    if (p.total > 0 && rate > 0) eta = format_duration(static_cast<double>(p.total - p.done) / rate);
    if (tty_) {
      if (!p.finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      constexpr int kWidth = 28;
      std::string bar;
      if (p.total > 0) {
        int filled = static_cast<int>(kWidth * static_cast<double>(p.done) / static_cast<double>(p.total));
        filled = filled < 0 ? 0 : (filled > kWidth ? kWidth : filled);
        for (int i = 0; i < kWidth; ++i) bar += i < filled ? "\u2588" : "\u00b7";
      }
      std::string line = p.total > 0 ? fmt::format("{} {} {}/{} {} | {:.1f} {}/s | ETA {} {}", p.label, bar, p.done,
                                                   p.total, p.unit, rate, p.unit, p.finished ? "0s" : eta, p.status)
                                     : fmt::format("{} {} {} | {:.1f} {}/s {}", p.label, p.done, p.unit, rate, p.unit,
                                                   p.status);
      fmt::print(out_, "\r\x1b[2K{}", line);
      if (p.finished) fmt::print(out_, "\n");
      std::fflush(out_);
    } else {
      bool tenth = p.total > 0 && p.done * 10 >= next_plain_tenth_ * p.total;
      if (!tenth && !p.finished) return;
      while (p.total > 0 && p.done * 10 >= next_plain_tenth_ * p.total) ++next_plain_tenth_;
      fmt::print(out_, "{}: {}/{} {} ({:.1f} {}/s, {}){}{}\n", p.label, p.done, p.total, p.unit, rate, p.unit,
                 p.finished ? "done in " + format_duration(elapsed) : "ETA " + eta, p.status.empty() ? "" : " ",
                 p.status);
      std::fflush(out_);
    }
  }

  static std::string format_duration(double sec) {
    if (sec < 60) return fmt::format("{:.0f}s", sec);
    if (sec < 3600) return fmt::format("{}m{:02d}s", static_cast<int>(sec / 60), static_cast<int>(sec) % 60);
    return fmt::format("{}h{:02d}m", static_cast<int>(sec / 3600), (static_cast<int>(sec) / 60) % 60);
  }

 private:
  std::FILE* out_;
  bool tty_;
  std::string label_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  long long next_plain_tenth_ = 1;
};

}  // namespace arioso::app
