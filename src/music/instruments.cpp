// General MIDI tables and the --instruments parser; see instruments.h.
#include "music/instruments.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"

namespace arioso::music {

namespace {

const std::vector<std::string>& programs() {
  static const std::vector<std::string> names = {
      "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano", "Electric Piano 1", "Electric Piano 2",
      "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
      "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
      "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)", "Electric Guitar (muted)",
      "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)",
      "Fretless Bass", "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass",
      "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1", "String Ensemble 2", "Synth Strings 1",
      "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
      "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2", "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe",
      "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
      "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)",
      "Lead 8 (bass + lead)", "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)",
      "Pad 7 (halo)", "Pad 8 (sweep)", "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
      "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
      "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise",
      "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot"};
  return names;
}

const std::vector<std::string>& families() {
  static const std::vector<std::string> names = {"Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings", "Ensemble", "Brass",
                                                 "Reed", "Pipe", "Synth Lead", "Synth Pad", "Synth Effects", "Ethnic", "Percussive",
                                                 "Sound Effects"};
  return names;
}

const std::vector<std::string>& percussion() {  // keys 27-87
  static const std::vector<std::string> names = {
      "High Q", "Slap", "Scratch Push", "Scratch Pull", "Sticks", "Square Click", "Metronome Click", "Metronome Bell", "Acoustic Bass Drum",
      "Bass Drum 1", "Side Stick", "Acoustic Snare", "Hand Clap", "Electric Snare", "Low Floor Tom", "Closed Hi-Hat", "High Floor Tom",
      "Pedal Hi-Hat", "Low Tom", "Open Hi-Hat", "Low-Mid Tom", "Hi-Mid Tom", "Crash Cymbal 1", "High Tom", "Ride Cymbal 1", "Chinese Cymbal",
      "Ride Bell", "Tambourine", "Splash Cymbal", "Cowbell", "Crash Cymbal 2", "Vibraslap", "Ride Cymbal 2", "Hi Bongo", "Low Bongo",
      "Mute Hi Conga", "Open Hi Conga", "Low Conga", "High Timbale", "Low Timbale", "High Agogo", "Low Agogo", "Cabasa", "Maracas",
      "Short Whistle", "Long Whistle", "Short Guiro", "Long Guiro", "Claves", "Hi Wood Block", "Low Wood Block", "Mute Cuica", "Open Cuica",
      "Mute Triangle", "Open Triangle", "Shaker", "Jingle Bell", "Belltree", "Castanets", "Mute Surdo", "Open Surdo"};
  return names;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

const std::string& program_name(int program) { return programs().at(static_cast<std::size_t>(program)); }
const std::string& family_name(int family) { return families().at(static_cast<std::size_t>(family)); }
const std::string& percussion_name(int key) {
  static const std::string none;
  if (key < 27 || key > 87) return none;
  return percussion()[static_cast<std::size_t>(key - 27)];
}

std::string instrument_name(int instrument) { return instrument == 128 ? "Drums" : program_name(instrument); }

bool InstrumentSet::any_program() const { return std::find(programs.begin(), programs.end(), true) != programs.end(); }

InstrumentSet parse_instruments(const std::string& text) {
  InstrumentSet set;
  std::stringstream in(text);
  std::string item;
  bool any = false;
  while (std::getline(in, item, ',')) {
    const std::string name = lower(trim(item));
    if (name.empty()) continue;
    any = true;
    if (name == "drums" || name == "drum" || name == "percussion kit") {
      set.drums = true;
      set.groups.push_back({128});
      continue;
    }
    if (std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      const int p = name.size() <= 3 ? std::stoi(name) : 999;
      if (p > 127) throw ConfigError(fmt::format("--instruments: program '{}' outside 0-127", trim(item)));
      set.programs[static_cast<std::size_t>(p)] = true;
      set.groups.push_back({p});
      continue;
    }
    if (name == "strings") {  // what a user means by strings: the family and the string ensembles
      set.groups.emplace_back();
      for (int p = 40; p <= 51; ++p) set.programs[static_cast<std::size_t>(p)] = true, set.groups.back().push_back(p);
      continue;
    }
    bool found = false;
    for (int f = 0; f < 16 && !found; ++f) {
      if (lower(families()[static_cast<std::size_t>(f)]) != name) continue;
      set.groups.emplace_back();
      for (int p = 8 * f; p < 8 * f + 8; ++p) set.programs[static_cast<std::size_t>(p)] = true, set.groups.back().push_back(p);
      found = true;
    }
    for (int p = 0; p < 128 && !found; ++p) {
      if (lower(programs()[static_cast<std::size_t>(p)]) != name) continue;
      set.programs[static_cast<std::size_t>(p)] = true;
      set.groups.push_back({p});
      found = true;
    }
    if (!found) {
      std::string all;
      for (const auto& f : families()) all += (all.empty() ? "" : ", ") + lower(f);
      throw ConfigError(fmt::format("--instruments: '{}' is not a General MIDI instrument (give a program number 0-127, a program name, "
                                    "drums, strings, or a family: {})", trim(item), all));
    }
  }
  if (!any) throw ConfigError("--instruments: no instrument given");
  return set;
}

}  // namespace arioso::music
