// The analyze picture: three rows (pitch-class histogram, inter-onset-interval histogram,
// metric means with one standard deviation), the pieces in blue, the reference in orange.
#include "render/chart.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "eval/structure.h"
#include "render/render.h"

namespace arioso::render {

namespace {

std::vector<double> pc_hist(const eval::PieceSet& s) {
  std::vector<double> h(12, 0);
  double t = 0;
  for (const auto& p : s.pieces) for (const auto& n : p.score.notes) if (!n.drum()) ++h[static_cast<std::size_t>(n.pitch % 12)], ++t;
  for (auto& v : h) v = t > 0 ? v / t : 0;
  return h;
}

const std::vector<double> kIoiBins = {1.0 / 12, 1.0 / 6, 0.25, 1.0 / 3, 0.5, 2.0 / 3, 0.75, 1, 1.5, 2, 3, 4};

std::vector<double> ioi_hist(const eval::PieceSet& s) {
  std::vector<double> h(kIoiBins.size() + 1, 0);
  double t = 0;
  for (const auto& p : s.pieces) {
    for (double v : eval::inter_onset_intervals(p.score)) {
      std::size_t b = kIoiBins.size();
      for (std::size_t i = 0; i < kIoiBins.size(); ++i) {
        if (v <= kIoiBins[i] + 1e-9) { b = i; break; }
      }
      ++h[b];
      ++t;
    }
  }
  for (auto& v : h) v = t > 0 ? v / t : 0;
  return h;
}

void bars(cairo_t* cr, double x0, double y0, double w, double h, const std::vector<double>& a, const std::vector<double>* b,
          const std::vector<std::string>& labels, const std::string& title) {
  double mx = 1e-9;
  for (double v : a) mx = std::max(mx, v);
  if (b) for (double v : *b) mx = std::max(mx, v);
  std::size_t n = a.size();
  double slot = w / static_cast<double>(n);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_set_font_size(cr, 12);
  cairo_move_to(cr, x0, y0 - 6);
  cairo_show_text(cr, title.c_str());
  cairo_set_font_size(cr, 9);
  for (std::size_t i = 0; i < n; ++i) {
    double bw = b ? slot * 0.4 : slot * 0.8;
    double x = x0 + slot * static_cast<double>(i) + slot * 0.1;
    cairo_set_source_rgb(cr, 0.2, 0.45, 0.8);
    double ha = a[i] / mx * (h - 14);
    cairo_rectangle(cr, x, y0 + h - 14 - ha, bw, ha);
    cairo_fill(cr);
    if (b) {
      cairo_set_source_rgb(cr, 0.95, 0.55, 0.15);
      double hb = (*b)[i] / mx * (h - 14);
      cairo_rectangle(cr, x + bw, y0 + h - 14 - hb, bw, hb);
      cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_move_to(cr, x, y0 + h - 2);
    cairo_show_text(cr, labels[i].c_str());
  }
}

}  // namespace

void write_analysis_png(const std::string& path, const eval::PieceSet& g, const eval::PieceSet* r) {
  const int width = 1000, height = 720;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 13);
  cairo_set_source_rgb(cr, 0.2, 0.45, 0.8);
  cairo_move_to(cr, 20, 20);
  cairo_show_text(cr, fmt::format("pieces ({})", g.pieces.size()).c_str());
  if (r) {
    cairo_set_source_rgb(cr, 0.95, 0.55, 0.15);
    cairo_move_to(cr, 160, 20);
    cairo_show_text(cr, fmt::format("reference ({})", r->pieces.size()).c_str());
  }
  static const std::vector<std::string> kPc = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
  auto ra = r ? pc_hist(*r) : std::vector<double>();
  bars(cr, 20, 50, 460, 180, pc_hist(g), r ? &ra : nullptr, kPc, "pitch classes (share of notes)");
  std::vector<std::string> ioi_labels = {"1/12", "1/6", "1/4", "1/3", "1/2", "2/3", "3/4", "1", "3/2", "2", "3", "4", ">4"};
  auto rb = r ? ioi_hist(*r) : std::vector<double>();
  bars(cr, 520, 50, 460, 180, ioi_hist(g), r ? &rb : nullptr, ioi_labels, "inter-onset intervals (quarter notes)");
  // Metric means, each scaled to the larger of the two means, with a one-sd whisker.
  const auto& names = eval::metric_names();
  double y0 = 280, rowh = (height - y0 - 20) / static_cast<double>(names.size());
  cairo_set_font_size(cr, 12);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_move_to(cr, 20, y0 - 10);
  cairo_show_text(cr, "metrics: mean and one standard deviation (scaled per metric)");
  auto stats = [&](const eval::PieceSet& s, const std::string& name) {
    double sum = 0, n = 0;
    for (const auto& p : s.pieces) { double v = p.metrics.at(name); if (std::isfinite(v)) sum += v, ++n; }
    double mean = n ? sum / n : 0, var = 0;
    for (const auto& p : s.pieces) { double v = p.metrics.at(name); if (std::isfinite(v)) var += (v - mean) * (v - mean); }
    return std::make_pair(mean, n ? std::sqrt(var / n) : 0.0);
  };
  for (std::size_t i = 0; i < names.size(); ++i) {
    double y = y0 + rowh * static_cast<double>(i);
    auto [gm, gs] = stats(g, names[i]);
    std::pair<double, double> rs = r ? stats(*r, names[i]) : std::make_pair(0.0, 0.0);
    double scale = std::max({std::abs(gm) + gs, std::abs(rs.first) + rs.second, 1e-9});
    cairo_set_font_size(cr, 10);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, 20, y + rowh * 0.6);
    cairo_show_text(cr, fmt::format("{} {:.3g}{}", names[i], gm, r ? fmt::format(" / {:.3g}", rs.first) : "").c_str());
    auto draw = [&](double m, double sd, double off, double cr_, double cg, double cb) {
      double x0 = 300, w = 660;
      cairo_set_source_rgb(cr, cr_, cg, cb);
      cairo_rectangle(cr, x0, y + off, std::max(0.0, m / scale * w), rowh * 0.3);
      cairo_fill(cr);
      cairo_set_line_width(cr, 1);
      cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
      cairo_move_to(cr, x0 + (m - sd) / scale * w, y + off + rowh * 0.15);
      cairo_line_to(cr, x0 + (m + sd) / scale * w, y + off + rowh * 0.15);
      cairo_stroke(cr);
    };
    draw(gm, gs, rowh * 0.1, 0.2, 0.45, 0.8);
    if (r) draw(rs.first, rs.second, rowh * 0.45, 0.95, 0.55, 0.15);
  }
  finish_png(surface, cr, path);
}

namespace {

void draw_matrix(cairo_t* cr, double x, double y, double size, const eval::AnalyzedPiece& p) {
  auto m = eval::bar_self_similarity(p.score);
  const std::size_t n = m.size();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_rectangle(cr, x, y, size, size);
  cairo_fill(cr);
  const double cell = n ? size / static_cast<double>(n) : size;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double v = 1.0 - static_cast<double>(m[i][j]);
      cairo_set_source_rgb(cr, v, v, 0.15 + 0.85 * v);
      cairo_rectangle(cr, x + cell * static_cast<double>(j), y + cell * static_cast<double>(i), std::max(cell, 1.0), std::max(cell, 1.0));
      cairo_fill(cr);
    }
  }
  cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, x, y, size, size);
  cairo_stroke(cr);
  std::string name = p.file.substr(p.file.find_last_of('/') == std::string::npos ? 0 : p.file.find_last_of('/') + 1);
  if (name.size() > 34) name = name.substr(0, 31) + "...";
  auto pct = [&](const char* metric) {
    double v = p.metrics.count(metric) ? p.metrics.at(metric) : NAN;
    return std::isfinite(v) ? fmt::format("{:.0f}%", 100 * v) : std::string("-");
  };
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_set_font_size(cr, 11);
  cairo_move_to(cr, x, y - 20);
  cairo_show_text(cr, name.c_str());
  cairo_set_font_size(cr, 10);
  cairo_move_to(cr, x, y - 6);
  cairo_show_text(cr, fmt::format("{} bars; repeated {} (transposed too {})", n, pct("repeated_bars"), pct("repeated_bars_transposed")).c_str());
}

}  // namespace

void write_self_similarity_png(const std::string& path, const eval::PieceSet& g, const eval::PieceSet* r, int per_row) {
  const double size = 280, gap = 40, top = 60;
  const int cols = std::max(1, per_row), rows = r ? 2 : 1;
  const int width = static_cast<int>(gap + cols * (size + gap)), height = static_cast<int>(top + rows * (size + gap + 30));
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cairo_set_font_size(cr, 14);
  cairo_move_to(cr, gap, 24);
  cairo_show_text(cr, "bar-by-bar self-similarity (Jaccard of onsets; dark = alike)");
  auto row = [&](const eval::PieceSet& set, double y, const char* label) {
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, gap, y - 34);
    cairo_show_text(cr, label);
    for (int i = 0; i < cols && static_cast<std::size_t>(i) < set.pieces.size(); ++i) {
      draw_matrix(cr, gap + i * (size + gap), y, size, set.pieces[static_cast<std::size_t>(i)]);
    }
  };
  row(g, top + 30, "pieces");
  if (r) row(*r, top + 30 + size + gap + 30, "reference");
  finish_png(surface, cr, path);
}

}  // namespace arioso::render
