// Pictures and sound of music: piano-roll PNG and charts (cairo), WAV audio (FluidSynth).
// Everything a user would rather see or hear than read. No libtorch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "music/score.h"

namespace arioso::render {

/// Piano roll: time across with bar lines, pitch up with octave labels (C2, C3, ...), velocity
/// as shade, each instrument in its own colour with a legend (when there are several or
/// drums), drums in a lane of their own with a row per drum; notes before `primer_end_tick` in
/// orange; ticks [shade_from, shade_to) shaded (new material of an infill). Throws Error if it
/// cannot write.
void write_piano_roll_png(const std::string& path, const music::Score& score, std::uint64_t primer_end_tick = 0,
                          int width = 1200, int height = 480, std::uint64_t shade_from = 0, std::uint64_t shade_to = 0);

/// The General MIDI soundfont Debian installs (TimGM6mb or FluidR3), or "" if none.
std::string find_soundfont();
/// Renders a score to a 16-bit stereo WAV at `sample_rate` with FluidSynth (1 s of release tail).
/// Returns the number of sample frames written. Throws Error naming the soundfont or file.
std::size_t write_wav(const std::string& path, const music::Score& score, const std::string& soundfont,
                      int sample_rate = 44100);

/// Destroys `cr`, writes `surface` to `path` atomically and destroys it; throws Error on failure.
/// (For the pictures of this library, which draw with cairo.)
void finish_png(struct _cairo_surface* surface, struct _cairo* cr, const std::string& path);

/// One line of a training log, for the loss curve.
struct LossPoint {
  double epoch = 0;
  double train_loss = 0;
  double valid_nll = 0;  ///< NaN when there was no validation
};
/// Training and validation loss against epochs.
void write_loss_png(const std::string& path, const std::vector<LossPoint>& points, const std::string& title);
/// The loss curve of a run folder (its log.csv) into its loss.png, titled from its config.json.
void write_run_loss_png(const std::string& run_dir);

}  // namespace arioso::render
