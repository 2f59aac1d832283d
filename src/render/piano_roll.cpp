// Piano-roll and loss-curve pictures with cairo.
#include <cairo.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "music/instruments.h"
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

namespace {

struct Rgb {
  double r, g, b;
};
/// Colours of the parts in order of first note (Tableau 10); the first is the single-part blue.
const Rgb kPartColours[] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74},
                            {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}, {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};
constexpr Rgb kPrimer{0.85, 0.45, 0.05};
constexpr int kDrumsPart = 128;

/// The parts of a score as the roll shows them: pitched programs in order of first note, then drums.
std::vector<int> roll_parts(const music::Score& score) {
  std::vector<int> order;
  bool drums = false;
  for (const auto& n : score.notes) {
    if (n.drum()) drums = true;
    else if (std::find(order.begin(), order.end(), n.program) == order.end()) order.push_back(n.program);
  }
  if (drums) order.push_back(kDrumsPart);
  return order;
}

struct Frame {
  double left, top, width, height;  // the pitched area
  int lo, hi;                        // pitch range shown
  double xs, ys;                     // pixels per tick, per pitch
};

void draw_pitch_grid(cairo_t* cr, const Frame& f) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 10);
  for (int p = f.lo; p <= f.hi; ++p) {
    double y = f.top + (f.hi - p) * f.ys;
    int pc = p % 12;
    if (pc == 1 || pc == 3 || pc == 6 || pc == 8 || pc == 10) {
      cairo_set_source_rgb(cr, 0.95, 0.95, 0.97);
      cairo_rectangle(cr, f.left, y, f.width, f.ys);
      cairo_fill(cr);
    }
    if (pc == 0) {
      cairo_set_source_rgb(cr, 0.75, 0.75, 0.8);
      cairo_set_line_width(cr, 1);
      cairo_move_to(cr, f.left, y + f.ys);
      cairo_line_to(cr, f.left + f.width, y + f.ys);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_move_to(cr, 4, y + f.ys - 1);
      cairo_show_text(cr, music::pitch_name(p).c_str());
    }
  }
}

void draw_bar_lines(cairo_t* cr, const music::Score& score, const Frame& f, double bottom, double label_y) {
  const std::uint64_t end = std::max<std::uint64_t>(score.end_tick(), 1);
  std::uint64_t tick = 0;
  for (int bar = 0; tick <= end; ++bar) {
    double x = f.left + static_cast<double>(tick) * f.xs;
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.85);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, x, f.top);
    cairo_line_to(cr, x, bottom);
    cairo_stroke(cr);
    if (bar % 4 == 0) {
      cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
      cairo_move_to(cr, x + 2, label_y);
      cairo_show_text(cr, std::to_string(bar + 1).c_str());
    }
    tick += score.bar_ticks_at(tick);
  }
}

void set_note_colour(cairo_t* cr, Rgb c, int velocity, bool primer) {
  if (primer) c = kPrimer;
  const double shade = 0.35 + 0.65 * velocity / 127.0;  // louder: stronger
  cairo_set_source_rgb(cr, 1 - (1 - c.r) * shade, 1 - (1 - c.g) * shade, 1 - (1 - c.b) * shade);
}

/// A lane under the pitched area: one row per drum used, named from the General MIDI map.
void draw_drum_lane(cairo_t* cr, const music::Score& score, const Frame& f, double top, double row, const std::vector<int>& keys, Rgb colour,
                    std::uint64_t primer_end) {
  cairo_set_font_size(cr, 8);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    double y = top + static_cast<double>(i) * row;
    if (i % 2 == 0) {
      cairo_set_source_rgb(cr, 0.96, 0.96, 0.96);
      cairo_rectangle(cr, f.left, y, f.width, row);
      cairo_fill(cr);
    }
    std::string name = music::percussion_name(keys[i]);
    if (name.size() > 8) name = name.substr(0, 8);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, 2, y + row - 1);
    cairo_show_text(cr, name.c_str());
  }
  for (const auto& n : score.notes) {
    if (!n.drum()) continue;
    const auto at = std::find(keys.begin(), keys.end(), n.pitch) - keys.begin();
    set_note_colour(cr, colour, n.velocity, n.start_tick < primer_end);
    cairo_rectangle(cr, f.left + static_cast<double>(n.start_tick) * f.xs, top + static_cast<double>(at) * row + 0.5, 2.0, std::max(1.0, row - 1));
    cairo_fill(cr);
  }
}

void draw_legend(cairo_t* cr, const std::vector<int>& parts, double right_edge, double top) {
  cairo_set_font_size(cr, 10);
  double widest = 0;
  for (int p : parts) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, music::instrument_name(p).c_str(), &e);
    widest = std::max(widest, e.x_advance);
  }
  const double w = widest + 26, h = 14.0 * static_cast<double>(parts.size()) + 6, x = right_edge - w - 4;
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, x, top + 4, w, h);
  cairo_fill(cr);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Rgb c = kPartColours[i % std::size(kPartColours)];
    const double y = top + 8 + 14.0 * static_cast<double>(i);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_rectangle(cr, x + 5, y + 2, 12, 8);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_move_to(cr, x + 21, y + 10);
    cairo_show_text(cr, music::instrument_name(parts[i]).c_str());
  }
}

}  // namespace

void write_piano_roll_png(const std::string& path, const music::Score& score, std::uint64_t primer_end, int width, int height,
                          std::uint64_t shade_from, std::uint64_t shade_to) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  const std::vector<int> parts = roll_parts(score);
  std::vector<int> drum_keys;
  int lo = 127, hi = 0;
  for (const auto& n : score.notes) {
    if (n.drum()) {
      if (std::find(drum_keys.begin(), drum_keys.end(), n.pitch) == drum_keys.end()) drum_keys.push_back(n.pitch);
      continue;
    }
    lo = std::min(lo, n.pitch), hi = std::max(hi, n.pitch);
  }
  std::sort(drum_keys.begin(), drum_keys.end());
  if (lo > hi) lo = 48, hi = 84;
  lo = std::max(0, (lo / 12) * 12);
  hi = std::min(127, (hi / 12 + 1) * 12);
  // Drums get a lane of their own under the pitches: a row per drum, at most a quarter of the height.
  const double left = 44, right = 10, top = 10, bottom = 24;
  const double full = height - top - bottom;
  const double row = drum_keys.empty() ? 0 : std::min(9.0, full * 0.25 / static_cast<double>(drum_keys.size()));
  const double lane = row * static_cast<double>(drum_keys.size()) + (drum_keys.empty() ? 0 : 6);
  Frame f{left, top, width - left - right, full - lane, lo, hi, 0, 0};
  const std::uint64_t end = std::max<std::uint64_t>(score.end_tick(), 1);
  f.xs = f.width / static_cast<double>(end);
  f.ys = f.height / (hi - lo + 1);
  draw_pitch_grid(cr, f);
  if (shade_to > shade_from) {  // the bars composed anew
    cairo_set_source_rgba(cr, 0.18, 0.37, 0.70, 0.12);
    cairo_rectangle(cr, f.left + static_cast<double>(shade_from) * f.xs, top, static_cast<double>(shade_to - shade_from) * f.xs, full);
    cairo_fill(cr);
  }
  draw_bar_lines(cr, score, f, top + full, height - 8);
  auto colour_of = [&](int part) { return kPartColours[static_cast<std::size_t>(std::find(parts.begin(), parts.end(), part) - parts.begin()) % std::size(kPartColours)]; };
  for (const auto& n : score.notes) {
    if (n.drum()) continue;
    set_note_colour(cr, colour_of(n.program), n.velocity, n.start_tick < primer_end);
    double x = f.left + static_cast<double>(n.start_tick) * f.xs;
    double w = std::max(1.5, static_cast<double>(n.end_tick - n.start_tick) * f.xs - 0.5);
    cairo_rectangle(cr, x, f.top + (hi - n.pitch) * f.ys + 0.5, w, std::max(1.0, f.ys - 1));
    cairo_fill(cr);
  }
  if (!drum_keys.empty()) draw_drum_lane(cr, score, f, top + f.height + 6, row, drum_keys, colour_of(kDrumsPart), primer_end);
  if (parts.size() > 1 || !drum_keys.empty()) draw_legend(cr, parts, left + f.width, top);
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
