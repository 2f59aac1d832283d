// General MIDI instruments: program names, families, the percussion map, and the `--instruments`
// list a user gives ("piano,bass,strings,drums", family or program names, program numbers).
#pragma once
#include <string>
#include <vector>

#include "midi/notes.h"

namespace arioso::music {

/// General MIDI level 1 name of a program 0-127 ("Acoustic Grand Piano").
const std::string& program_name(int program);
/// The 16 General MIDI families of eight programs each, by program / 8 ("Piano", "Bass", ...).
const std::string& family_name(int family);
/// General MIDI level 2 name of a percussion key 27-87 ("Acoustic Bass Drum"), or "" outside.
const std::string& percussion_name(int key);

/// Instruments a user asked for: programs (128 flags) and drums, and the groups they came in
/// (one per item of the list: a family's eight programs, one program, or {128} for drums), so
/// that "bass" means one bass, of the model's choice, not all eight.
struct InstrumentSet {
  std::vector<bool> programs = std::vector<bool>(128, false);
  bool drums = false;
  std::vector<std::vector<int>> groups;  ///< ascending instruments (128 = drums) per item
  bool any_program() const;
};
/// Parses a comma-separated list of instruments, case-insensitive: a program number (0-127),
/// a General MIDI program name, a family name (all its eight programs), "strings" (the Strings
/// family and the four string ensembles, 40-51), or "drums". Throws ConfigError naming the item
/// it cannot read and listing the families.
InstrumentSet parse_instruments(const std::string& text);
/// The instrument of a note as arioso numbers them: its program, or 128 for drums.
inline int instrument_of(const midi::Note& n) { return n.drum() ? 128 : n.program; }

/// Display name of an instrument as the tokenizer numbers them: a program's name, or "Drums"
/// for 128.
std::string instrument_name(int instrument);

}  // namespace arioso::music
