// What a lenient read made implausible, noticed before it goes into a corpus: a corrupted delta
// time opens a silence of hours, a corrupted tempo makes a note last minutes, a file of mostly
// recovered bytes is noise. Silences are cut (whole bars, one left); hopeless files are skipped.
// Every action names the file and byte offset, for prepare's list of what it did.
#pragma once
#include <string>
#include <vector>

#include "midi/midi_file.h"

namespace arioso::data {

struct PlausibilityLimits {
  double min_silence_s = 30;    ///< a silence is cut only if longer than this and than all the piece's music
  double min_bpm = 10, max_bpm = 1000;  ///< outside: no musical tempo
};

struct Plausibility {
  bool skip = false;
  std::string reason;                 ///< why skipped (complete: "path:0x1a3: track 2: ...")
  std::vector<std::string> repairs;   ///< what was changed, one complete line each
};

/// Checks `file` (read leniently from `path` with `recoveries` recoveries) and cuts its
/// implausible silences in place.
Plausibility make_plausible(midi::MidiFile& file, std::size_t recoveries, const std::string& path, const PlausibilityLimits& limits = {});

}  // namespace arioso::data
