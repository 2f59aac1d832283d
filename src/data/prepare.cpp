// See prepare.h.
#include "data/prepare.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"
#include "data/plausibility.h"
#include "midi/notes.h"
#include "music/remi.h"

namespace arioso::data {

PrepareResult prepare_corpus(const std::vector<std::string>& inputs, const PrepareOptions& opt, const ProgressFn& progress) {
  opt.tokenizer.validate();
  if (opt.valid_fraction < 0 || opt.test_fraction < 0 || opt.valid_fraction + opt.test_fraction >= 1) {
    throw ConfigError("--valid-fraction and --test-fraction must be >= 0 and sum to less than 1");
  }
  PrepareResult r;
  std::vector<std::string> files = find_midi_files(inputs);
  r.files_found = files.size();
  struct Raw {
    std::string path;
    std::uint64_t hash;
    float seconds;
    std::vector<std::string> tokens;
  };
  std::vector<Raw> raws;
  std::set<std::uint64_t> hashes;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    if (progress) progress({"prepare", static_cast<std::int64_t>(i), static_cast<std::int64_t>(files.size()), "files", "", false});
    try {
      std::vector<std::uint8_t> bytes = read_file_bytes(path);
      std::uint64_t h = fnv1a64(bytes.data(), bytes.size());
      midi::ReadOptions ro;
      ro.path = path;
      std::vector<midi::Diagnostic> diags;
      midi::MidiFile f = midi::read_midi(bytes, ro, &diags);
      ++r.files_read;
      auto plausible = make_plausible(f, diags.size(), path);
      if (plausible.skip) {
        r.skipped.push_back({path, plausible.reason});
        continue;
      }
      for (auto& repair : plausible.repairs) r.repairs.push_back({path, std::move(repair)});
      if (!hashes.insert(h).second) {
        r.skipped.push_back({path, "same content as a file already in the corpus"});
        continue;
      }
      auto tokens = music::tokenize(f, opt.tokenizer);
      if (tokens.empty()) {
        r.skipped.push_back({path, opt.tokenizer.compat_music21 ? "no tokens (music21 reading)" : "no notes in the selected parts (--parts " + opt.tokenizer.parts + ")"});
        continue;
      }
      float sec = static_cast<float>(midi::TempoMap(f).seconds(midi::length_ticks(f)));
      raws.push_back({path, h, sec, std::move(tokens)});
    } catch (const Error& e) {
      r.skipped.push_back({path, e.what()});
    }
  }
  if (progress) progress({"prepare", static_cast<std::int64_t>(files.size()), static_cast<std::int64_t>(files.size()), "files", "", true});
  if (raws.empty()) {
    std::string why = files.empty() ? "no .mid or .midi files found" : "no file gave any token";
    for (std::size_t i = 0; i < r.skipped.size() && i < 3; ++i) why += "\n  " + r.skipped[i].error;
    throw Error(fmt::format("nothing to prepare: {}", why));
  }
  Corpus& c = r.corpus;
  c.tokenizer = opt.tokenizer;
  if (opt.tokenizer.name == "remi") {
    c.vocab = music::Vocab::for_remi(opt.tokenizer.remi);
  } else {
    std::set<std::string> all;  // the tutorial's sorted(set(notes))
    for (const auto& raw : raws) all.insert(raw.tokens.begin(), raw.tokens.end());
    c.vocab = music::Vocab(std::vector<std::string>(all.begin(), all.end()));
  }
  if (c.vocab.size() > 65535) throw Error(fmt::format("vocabulary of {} tokens is too large for the corpus format", c.vocab.size()));
  for (auto& raw : raws) {
    Piece p;
    p.source = raw.path;
    p.content_hash = raw.hash;
    p.seconds = raw.seconds;
    p.split = split_for_hash(raw.hash, opt.valid_fraction, opt.test_fraction);
    p.tokens.reserve(raw.tokens.size());
    for (const auto& t : raw.tokens) p.tokens.push_back(static_cast<std::uint16_t>(c.vocab.id(t)));
    r.minutes += raw.seconds / 60.0;
    c.pieces.push_back(std::move(p));
  }
  // Small folders: make sure a requested held-out split is not empty (the piece with the
  // smallest hash goes there, so the choice is still independent of file order).
  auto ensure = [&](Split s, double fraction) {
    if (fraction <= 0 || c.piece_count(s) > 0 || c.piece_count(Split::kTrain) < 2) return;
    Piece* pick = nullptr;
    for (auto& p : c.pieces) {
      if (p.split == Split::kTrain && (!pick || p.content_hash < pick->content_hash)) pick = &p;
    }
    pick->split = s;
  };
  // Small folders again: a split by hash can hold out far more than asked (3 of 6 files at
  // 0.1), which a user's few files cannot spare. At most twice the share asked (at least one)
  // stay held out, those of the smallest hashes; larger corpora keep their split as it was.
  auto cap = [&](Split s, double fraction) {
    const auto most = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(2 * fraction * static_cast<double>(c.pieces.size()))));
    std::vector<Piece*> held;
    for (auto& p : c.pieces) if (p.split == s) held.push_back(&p);
    if (held.size() <= most) return;
    std::sort(held.begin(), held.end(), [](const Piece* a, const Piece* b) { return a->content_hash < b->content_hash; });
    for (std::size_t i = most; i < held.size(); ++i) held[i]->split = Split::kTrain;
  };
  cap(Split::kValid, opt.valid_fraction);
  cap(Split::kTest, opt.test_fraction);
  ensure(Split::kValid, opt.valid_fraction);
  ensure(Split::kTest, opt.test_fraction);
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : r.skipped) skipped.push_back({{"file", s.file}, {"error", s.error}});
  nlohmann::json repaired = nlohmann::json::array();
  for (const auto& s : r.repairs) repaired.push_back({{"file", s.file}, {"repair", s.error}});
  c.meta = {{"inputs", inputs},
            {"valid_fraction", opt.valid_fraction},
            {"test_fraction", opt.test_fraction},
            {"files_read", r.files_read},
            {"files_skipped", skipped},
            {"files_repaired", repaired}};
  return r;
}

}  // namespace arioso::data
