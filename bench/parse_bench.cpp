// Reads MIDI files and extracts their notes, N times; prints files/s (for bench/parse_vs_mido.sh).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "midi/midi_file.h"
#include "midi/notes.h"

int main(int argc, char** argv) {
  std::vector<std::string> files(argv + 1, argv + argc);
  const int kRepeats = 5;
  std::size_t notes = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < kRepeats; ++r) {
    for (const auto& f : files) {
      try {
        notes += arioso::midi::extract_notes(arioso::midi::read_midi_file(f)).size();
      } catch (const arioso::Error&) {
      }
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / kRepeats;
  std::printf("%.1f %zu\n", static_cast<double>(files.size()) / s, notes / kRepeats);
  return 0;
}
