// Piano-roll and loss-curve pictures with cairo.
#include <cairo.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "music/pitch.h"
#include "render/render.h"
#include <filesystem>
#include "data/run_folder.h"

namespace arioso::render {

void finish_png(cairo_surface_t* surface, cairo_t* cr, const std::string& path) {
  cairo_destroy(cr);
  std::string tmp = path + ".tmp.png";
  cairo_status_t st = cairo_surface_write_to_png(surface, tmp.c_str());
  cairo_surface_destroy(surface);
  if (st != CAIRO_STATUS_SUCCESS || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("{}: cannot write PNG: {}", path, cairo_status_to_string(st)));
  }
}

void write_piano_roll_png(const std::string& path, const music::Score& score, std::uint64_t primer_end, int width, int height) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  int lo = 127, hi = 0;
  for (const auto& n : score.notes) lo = std::min(lo, n.pitch), hi = std::max(hi, n.pitch);
  if (score.notes.empty()) lo = 48, hi = 84;
  lo = std::max(0, (lo / 12) * 12);
  hi = std::min(127, (hi / 12 + 1) * 12);
  const double left = 44, right = 10, top = 10, bottom = 24;
  double pw = width - left - right, ph = height - top - bottom;
  std::uint64_t end = std::max<std::uint64_t>(score.end_tick(), 1);
  double xs = pw / static_cast<double>(end), ys = ph / (hi - lo + 1);
  // Octave bands and labels.
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 10);
  for (int p = lo; p <= hi; ++p) {
    double y = top + (hi - p) * ys;
    int pc = p % 12;
    if (pc == 1 || pc == 3 || pc == 6 || pc == 8 || pc == 10) {
      cairo_set_source_rgb(cr, 0.95, 0.95, 0.97);
      cairo_rectangle(cr, left, y, pw, ys);
      cairo_fill(cr);
    }
    if (pc == 0) {
      cairo_set_source_rgb(cr, 0.75, 0.75, 0.8);
      cairo_set_line_width(cr, 1);
      cairo_move_to(cr, left, y + ys);
      cairo_line_to(cr, left + pw, y + ys);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_move_to(cr, 4, y + ys - 1);
      cairo_show_text(cr, music::pitch_name(p).c_str());
    }
  }
  // Bar lines from the time signatures.
  std::uint64_t tick = 0;
  int bar = 0;
  while (tick <= end) {
    double x = left + static_cast<double>(tick) * xs;
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.85);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, top + ph);
    cairo_stroke(cr);
    if (bar % 4 == 0) {
      cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
      cairo_move_to(cr, x + 2, height - 8);
      cairo_show_text(cr, std::to_string(bar + 1).c_str());
    }
    tick += score.bar_ticks_at(tick);
    ++bar;
  }
  for (const auto& n : score.notes) {
    double shade = 0.35 + 0.65 * n.velocity / 127.0;
    bool primer = n.start_tick < primer_end;
    if (primer) cairo_set_source_rgb(cr, 0.9 - 0.5 * shade, 0.55 - 0.3 * shade, 0.1);
    else cairo_set_source_rgb(cr, 0.85 - 0.75 * shade, 0.9 - 0.6 * shade, 1.0 - 0.3 * shade);
    double x = left + static_cast<double>(n.start_tick) * xs;
    double w = std::max(1.5, static_cast<double>(n.end_tick - n.start_tick) * xs - 0.5);
    cairo_rectangle(cr, x, top + (hi - n.pitch) * ys + 0.5, w, std::max(1.0, ys - 1));
    cairo_fill(cr);
  }
  finish_png(surface, cr, path);
}

void write_loss_png(const std::string& path, const std::vector<LossPoint>& pts, const std::string& title) {
  const int width = 720, height = 400;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  const double left = 56, right = 16, top = 30, bottom = 36;
  double pw = width - left - right, ph = height - top - bottom;
  double xmax = 1, ymin = 1e9, ymax = -1e9;
  for (const auto& p : pts) {
    xmax = std::max(xmax, p.epoch);
    for (double v : {p.train_loss, p.valid_nll}) {
      if (std::isfinite(v)) ymin = std::min(ymin, v), ymax = std::max(ymax, v);
    }
  }
  if (ymin > ymax) ymin = 0, ymax = 1;
  if (ymax - ymin < 1e-6) ymax = ymin + 1;
  double pad = 0.05 * (ymax - ymin);
  ymin -= pad;
  ymax += pad;
  auto X = [&](double e) { return left + e / xmax * pw; };
  auto Y = [&](double v) { return top + (ymax - v) / (ymax - ymin) * ph; };
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 11);
  cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
  cairo_set_line_width(cr, 1);
  for (int i = 0; i <= 5; ++i) {
    double v = ymin + (ymax - ymin) * i / 5;
    cairo_move_to(cr, left, Y(v));
    cairo_line_to(cr, left + pw, Y(v));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_move_to(cr, 6, Y(v) + 4);
    cairo_show_text(cr, fmt::format("{:.2f}", v).c_str());
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
  }
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_set_font_size(cr, 13);
  cairo_move_to(cr, left, 20);
  cairo_show_text(cr, title.c_str());
  cairo_set_font_size(cr, 11);
  cairo_move_to(cr, left + pw / 2 - 20, height - 10);
  cairo_show_text(cr, fmt::format("epoch (max {:.1f})", xmax).c_str());
  auto line = [&](bool valid, double r, double g, double b, const char* label, double ly) {
    cairo_set_source_rgb(cr, r, g, b);
    cairo_set_line_width(cr, 2);
    bool started = false;
    for (const auto& p : pts) {
      double v = valid ? p.valid_nll : p.train_loss;
      if (!std::isfinite(v)) continue;
      if (!started) cairo_move_to(cr, X(p.epoch), Y(v));
      else cairo_line_to(cr, X(p.epoch), Y(v));
      started = true;
    }
    cairo_stroke(cr);
    for (const auto& p : pts) {
      double v = valid ? p.valid_nll : p.train_loss;
      if (!std::isfinite(v)) continue;
      cairo_arc(cr, X(p.epoch), Y(v), 2.5, 0, 2 * M_PI);
      cairo_fill(cr);
    }
    cairo_rectangle(cr, width - 170, ly - 8, 14, 4);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, width - 150, ly);
    cairo_show_text(cr, label);
  };
  line(false, 0.15, 0.4, 0.8, "train loss (nats/token)", 20);
  line(true, 0.85, 0.35, 0.1, "validation NLL", 36);
  finish_png(surface, cr, path);
}

void write_run_loss_png(const std::string& run_dir) {
  const data::RunFolder run{run_dir};
  std::vector<LossPoint> points;
  for (const auto& r : data::read_log(run.log())) points.push_back({r.epoch, r.train_loss, r.valid_nll});
  std::string title = run_dir;
  if (std::filesystem::exists(run.config())) {
    const auto c = data::read_json_file(run.config());
    const int ranks = c.value("world_size", 1);
    title = fmt::format("{} {} on {} ({} tokenizer{})", c.value("/model/arch"_json_pointer, std::string("?")),
                        c.value("/train/preset"_json_pointer, std::string("?")),
                        std::filesystem::path(c.value("corpus", std::string("?"))).filename().string(),
                        c.value("/tokenizer/name"_json_pointer, std::string("?")), ranks > 1 ? fmt::format(", {} ranks", ranks) : "");
  }
  write_loss_png(run.loss_png(), points, title);
}

}  // namespace arioso::render
