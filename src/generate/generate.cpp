// The generator; see generate.h. One loop over steps for a batch of pieces: the model gives
// next-token logits for every row, each row masks what its grammar, constraints and the
// originality gate forbid, samples, and feeds the token back.
#include "generate/generate.h"
#include "generate/sampler.h"
#include "data/run_folder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"
#include "data/corpus.h"
#include "midi/midi_file.h"
#include "music/classic.h"
#include "music/pitch_view.h"
#include "music/remi.h"

namespace fs = std::filesystem;

namespace arioso::generate {

std::pair<int, bool> parse_key(const std::string& text) {
  auto colon = text.find(':');
  std::string tonic = text.substr(0, colon), mode = colon == std::string::npos ? "major" : text.substr(colon + 1);
  static const int kBase[] = {9, 11, 0, 2, 4, 5, 7};
  if (tonic.empty() || tonic[0] < 'A' || tonic[0] > 'G' || (mode != "major" && mode != "minor")) {
    throw ConfigError(fmt::format("--key {}: use TONIC:major or TONIC:minor, e.g. C:major, F#:minor, Bb:major", text));
  }
  int pc = kBase[tonic[0] - 'A'];
  for (std::size_t i = 1; i < tonic.size(); ++i) {
    if (tonic[i] == '#') ++pc;
    else if (tonic[i] == 'b' || tonic[i] == '-') --pc;
    else throw ConfigError(fmt::format("--key {}: '{}' is not a note name", text, tonic));
  }
  return {((pc % 12) + 12) % 12, mode == "minor"};
}

static bool in_scale(int pitch, const std::pair<int, bool>& key) {
  static const bool kMajor[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
  static const bool kMinor[12] = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0};
  int d = ((pitch - key.first) % 12 + 12) % 12;
  return key.second ? kMinor[d] : kMajor[d];
}

Generator::Generator(const std::string& run_dir, const std::string& device) : run_dir_(run_dir), device_(torch::kCPU) {
  if (device == "cuda") {
    if (!torch::cuda::is_available()) throw ConfigError("--device cuda: this libtorch has no CUDA or no GPU is visible");
    device_ = torch::Device(torch::kCUDA);
  } else if (device != "cpu") {
    throw ConfigError(fmt::format("--device {}: use cpu or cuda", device));
  }
  const data::RunFolder run{run_dir};
  const std::string ckpt = run.checkpoint();
  if (ckpt.empty()) throw Error(fmt::format("{}: no trained model (best.pt or last.pt); run 'arioso train' first", run_dir));
  model_ = model::load_checkpoint(ckpt, &meta_);
  model_->to(device_);
  model_->eval();
  tokenizer_ = music::TokenizerConfig::from_json(meta_.tokenizer);
  vocab_ = music::Vocab(meta_.vocab);
  if (vocab_.hash() != meta_.vocab_hash) throw FormatError(fmt::format("{}: vocabulary does not match its hash", ckpt));
  if (fs::exists(run.copy_index())) index_ = eval::CopyIndex::deserialize(read_file_bytes(run.copy_index()), run.copy_index());
  if (fs::exists(run.copy_sources())) {
    for (const auto& j : data::read_json_file(run.copy_sources())) sources_.push_back(j.value("file", ""));
  }
  if (fs::exists(run.config())) corpus_path_ = data::read_json_file(run.config()).value("corpus", "");
}

void drop_trailing_changes(music::Score& score) {
  const std::uint64_t last = score.end_tick();
  auto after_end = [last](const auto& e) { return e.tick > 0 && e.tick >= last; };
  score.tempos.erase(std::remove_if(score.tempos.begin(), score.tempos.end(), after_end), score.tempos.end());
  score.time_signatures.erase(std::remove_if(score.time_signatures.begin(), score.time_signatures.end(), after_end), score.time_signatures.end());
  score.key_signatures.erase(std::remove_if(score.key_signatures.begin(), score.key_signatures.end(), after_end), score.key_signatures.end());
}

void Generator::set_precision(const std::string& precision) {
  if (precision == "fp32") model_->set_step_precision(torch::kFloat);
  else if (precision == "bf16") model_->set_step_precision(torch::kBFloat16);
  else throw ConfigError(fmt::format("--precision {}: use fp32 or bf16", precision));
}

std::vector<std::string> Generator::primer_from_midi(const std::string& path) const {
  auto tokens = music::tokenize(midi::read_midi_file(path), tokenizer_);
  std::vector<std::string> out;
  for (auto& t : tokens) {
    if (vocab_.find(t)) out.push_back(t);
  }
  if (out.empty()) throw Error(fmt::format("{}: no tokens of this run's vocabulary in the primer", path));
  return out;
}

std::vector<std::string> Generator::primer_from_corpus(std::uint64_t seed, int length) const {
  if (corpus_path_.empty() || !fs::exists(corpus_path_)) {
    throw Error(fmt::format("the run's corpus ({}) is not available for --primer-from-corpus", corpus_path_.empty() ? "unknown" : corpus_path_));
  }
  data::Corpus c = data::read_corpus(corpus_path_);
  std::vector<const data::Piece*> train;
  for (const auto& p : c.pieces) {
    if (p.split == data::Split::kTrain && p.tokens.size() > static_cast<std::size_t>(length) + 1) train.push_back(&p);
  }
  if (train.empty()) throw Error("no training piece is long enough for a primer");
  std::mt19937_64 rng(seed);
  const data::Piece& p = *train[rng() % train.size()];
  std::vector<std::string> tokens;
  for (auto t : p.tokens) tokens.push_back(c.vocab.token(t));
  if (tokenizer_.name == "classic") {
    std::size_t start = rng() % (tokens.size() - static_cast<std::size_t>(length));
    return std::vector<std::string>(tokens.begin() + static_cast<long>(start), tokens.begin() + static_cast<long>(start) + length);
  }
  // REMI: cut whole bars out of the decoded piece and encode them again, so the primer is well formed.
  music::Score s = music::remi_decode(tokens, tokenizer_.remi);
  std::uint64_t bar = s.bar_ticks_at(0);  // bars of the piece's first meter
  std::uint64_t end = s.end_tick();
  std::uint64_t bars = std::max<std::uint64_t>(1, end / bar);
  std::uint64_t from = (rng() % std::max<std::uint64_t>(1, bars > 4 ? bars - 4 : 1)) * bar;
  music::Score w;
  w.ticks_per_quarter = 480;
  w.time_signatures = {{0, s.time_signatures.empty() ? 4 : s.time_signatures[0].numerator, s.time_signatures.empty() ? 4 : s.time_signatures[0].denominator}};
  w.tempos = {{0, s.tempos.empty() ? 500000u : s.tempos[0].us_per_quarter}};
  for (const auto& t : s.tempos) if (t.tick <= from) w.tempos[0].us_per_quarter = t.us_per_quarter;
  for (const auto& n : s.notes) {
    if (n.start_tick >= from && n.start_tick < from + 4 * bar) {
      music::Note x = n;
      x.start_tick -= from;
      x.end_tick -= from;
      w.notes.push_back(x);
    }
  }
  auto out = music::remi_encode(w, tokenizer_.remi);
  if (out.empty()) return {"Bar"};
  return out;
}

std::vector<bool> banned_instruments(const GenerateOptions& o, const music::TokenizerConfig& tok, int V) {
  std::vector<bool> banned(static_cast<std::size_t>(V), false);
  if (!o.instruments && !o.no_drums) return banned;
  if (tok.name != "remi" || !tok.remi.instruments) {
    throw ConfigError("this run's tokenizer has no instruments: --instruments and --no-drums need a run prepared with --tokenizer remi (the default since 0.2)");
  }
  if (o.instruments && !o.instruments->any_program() && !o.instruments->drums) throw ConfigError("--instruments: nothing to play");
  for (int id = 0; id < V; ++id) {
    const auto kind = music::remi_kind(id);
    if (kind == music::RemiKind::kDrum) banned[static_cast<std::size_t>(id)] = o.no_drums || (o.instruments && !o.instruments->drums);
    if (kind != music::RemiKind::kProgram) continue;
    const int program = music::remi_value(id);
    if (program == music::RemiSettings::kDrums) banned[static_cast<std::size_t>(id)] = o.no_drums || (o.instruments && !o.instruments->drums);
    else if (o.instruments) banned[static_cast<std::size_t>(id)] = !o.instruments->programs[static_cast<std::size_t>(program)];
  }
  return banned;
}

/// In the header, with --instruments: the piece declares one instrument of each item asked for
/// (of the model's choice within a family), ascending, and nothing else, so the model composes
/// for them: an instrument may come next if it serves an item not yet served and every other
/// such item keeps a later instrument; the first position only when every item is served.
void require_header(const music::RemiGrammar& grammar, const music::InstrumentSet& want, std::vector<bool>& allowed) {
  std::vector<const std::vector<int>*> open;
  for (const auto& g : want.groups) {
    if (std::none_of(g.begin(), g.end(), [&](int i) { return grammar.declared(i); })) open.push_back(&g);
  }
  const int program0 = music::remi_first_id(music::RemiKind::kProgram);
  for (int i = 0; i <= music::RemiSettings::kDrums; ++i) {
    bool serves = false, others_keep = true;
    for (const auto* g : open) {
      const bool in = std::find(g->begin(), g->end(), i) != g->end();
      serves = serves || in;
      if (!in && g->back() <= i) others_keep = false;
    }
    if (!(serves && others_keep && i > grammar.header_last())) allowed[static_cast<std::size_t>(program0 + i)] = false;
  }
  if (!open.empty()) allowed[static_cast<std::size_t>(music::remi_first_id(music::RemiKind::kPosition))] = false;
}

namespace {

struct Slot {
  std::vector<int> ids;
  std::size_t primer_len = 0;
  music::RemiGrammar grammar;
  std::int64_t bar_start = 0, bar_len = 0;
  bool any_bar = false;
  std::int64_t onset_grid = -1, prev_onset_grid = 0;
  std::vector<int> onset_pitches;
  std::size_t onset_token = 0;  // index of the current onset's Position token
  eval::CopyIndex::Cursor cursor;
  double sec = 0, sec_at_bar = 0, us_per_quarter = 500000;
  std::int64_t grid_at_tempo = 0;
  double sec_at_tempo = 0;
  std::size_t notes = 0;
  int bars = 0;
  bool done = false, gated = false;
  std::mt19937_64 rng;
  music::PitchView view;  // the ids the model reads (music/pitch_view.h)
};

/// The onset a slot is stating, as the copy index knows onsets.
std::uint64_t onset_symbol_of(const Slot& s) {
  std::vector<int> ps = s.onset_pitches;
  std::sort(ps.begin(), ps.end());
  return eval::onset_symbol(ps, s.onset_grid - s.prev_onset_grid);
}

/// Seconds from the start at grid position `grid` of a slot's bar (its tempo so far).
double seconds_at(const Slot& s, std::int64_t grid) {
  return s.sec_at_tempo + static_cast<double>(grid - s.grid_at_tempo) / 12.0 * s.us_per_quarter / 1e6;
}

/// The share of its length the least advanced unfinished slot has (0..1), for progress.
double least_done(const GenerateOptions& o, bool remi, const std::vector<Slot>& slots) {
  double least = 1;
  for (const auto& s : slots) {
    if (s.done) continue;
    double f = 0;
    if (o.bars > 0) f = static_cast<double>(s.bars) / o.bars;
    else if (o.seconds > 0) f = (remi ? seconds_at(s, s.onset_grid) : s.sec) / o.seconds;
    else if (o.notes > 0) f = static_cast<double>(s.notes) / o.notes;
    least = std::min(least, f);
  }
  return std::clamp(least, 0.0, 1.0);
}

/// What the options of one generate() call ask of every step, over the vocabulary's V ids.
struct Rules {
  bool remi = false;
  int V = 0;
  int key_id = -1;              ///< every bar's Key must be this one (--key, a continuation's)
  int tempo_only = -1;          ///< every Tempo must be this one (--tempo)
  bool continuation = false;    ///< no TimeSig: the primer's meter holds
  double key_strength = 0;      ///< with the key mask: what out-of-key pitches lose (0: forbidden)
  std::vector<bool> out_of_key, instrument_banned;
  std::vector<int> pitch_of;    ///< REMI: a Pitch id's pitch, else -1
  std::vector<std::uint64_t> classic_symbol;  ///< classic: a token's onset symbol
  std::vector<std::vector<int>> classic_pitches;  ///< classic: a token's pitches, ascending
  const music::InstrumentSet* instruments = nullptr;
  int no_repeat_ngram = 0;
  bool gate = false;            ///< the originality gate, at most K onsets copied
  std::size_t K = 0;
};

/// Marks in `allowed` the ids that may come next in slot `s`: its grammar, the options, and the
/// originality gate.
void allowed_next(const Rules& r, const Slot& s, const eval::CopyIndex& index, std::vector<bool>& allowed) {
  if (r.remi) s.grammar.allowed(allowed);
  else std::fill(allowed.begin(), allowed.end(), true);
  for (int id = 0; id < r.V; ++id) {
    auto u = static_cast<std::size_t>(id);
    if (!allowed[u]) continue;
    if (r.out_of_key[u] && r.key_strength <= 0) allowed[u] = false;
    if (r.key_id >= 0 && s.grammar.expects_key() && id != r.key_id) allowed[u] = false;
    if (r.tempo_only >= 0 && music::remi_kind(id) == music::RemiKind::kTempo && id != r.tempo_only) allowed[u] = false;
    if (r.continuation && music::remi_kind(id) == music::RemiKind::kTimeSig) allowed[u] = false;
    if (r.instrument_banned[u]) allowed[u] = false;
    if (r.gate && !r.remi && index.exceeds(s.cursor, r.classic_symbol[u], r.K)) allowed[u] = false;
  }
  if (r.instruments && r.remi && s.grammar.in_header()) require_header(s.grammar, *r.instruments, allowed);
  if (r.remi && r.gate && !s.onset_pitches.empty() && index.exceeds(s.cursor, onset_symbol_of(s), r.K)) {
    // Closing this onset would extend a copy beyond K: it must take another pitch first.
    for (int id = 0; id < r.V; ++id) {
      auto k = music::remi_kind(id);
      if (k == music::RemiKind::kPosition || k == music::RemiKind::kBar) allowed[static_cast<std::size_t>(id)] = false;
    }
  }
  if (r.no_repeat_ngram > 1) forbid_repeated_ngrams(s.ids, s.primer_len, r.no_repeat_ngram, allowed);
}

/// The sampler's scores for slot `s` from the model's (in written ids): -inf where not
/// allowed, less the key strength out of key; `penalized` marks the pitches of the last 64
/// generated tokens for the repetition penalty (when there is one).
void scores_next(const Rules& r, const Slot& s, const float* model_scores, const std::vector<bool>& allowed, bool repetition_penalty,
                 std::vector<double>& lg, std::vector<bool>& penalized) {
  for (int id = 0; id < r.V; ++id) {
    auto u = static_cast<std::size_t>(id);
    lg[u] = allowed[u] ? model_scores[u] - (r.out_of_key[u] ? r.key_strength : 0.0) : -INFINITY;
  }
  std::fill(penalized.begin(), penalized.end(), false);
  if (!repetition_penalty) return;
  std::size_t from = s.ids.size() > 64 ? s.ids.size() - 64 : 0;
  for (std::size_t i = std::max(from, s.primer_len); i < s.ids.size(); ++i) {
    auto u = static_cast<std::size_t>(s.ids[i]);
    penalized[u] = !r.remi || r.pitch_of[u] >= 0;
  }
}

/// Whether slot `s` is long enough that `pick` must not come: length limits end a piece at a
/// clean boundary, before the token that would start a new note, onset or bar.
bool long_enough(const GenerateOptions& o, bool remi, const Slot& s, int pick) {
  if (!remi) {
    return (o.bars > 0 && static_cast<int>((s.ids.size() - s.primer_len) / 8) >= o.bars) || (o.seconds > 0 && s.sec >= o.seconds);
  }
  auto kind = music::remi_kind(pick);
  const bool starts_something = kind == music::RemiKind::kPitch || kind == music::RemiKind::kPosition || kind == music::RemiKind::kBar ||
                                kind == music::RemiKind::kRepeat;
  if (o.notes > 0 && static_cast<int>(s.notes) >= o.notes && starts_something) return true;
  if (kind == music::RemiKind::kBar && o.bars > 0 && s.bars >= o.bars) return true;
  if (o.seconds > 0 && (kind == music::RemiKind::kBar || kind == music::RemiKind::kPosition)) {
    std::int64_t g = kind == music::RemiKind::kBar ? s.bar_start + s.bar_len : s.bar_start + music::remi_value(pick);
    if (seconds_at(s, g) >= o.seconds) return true;
  }
  return false;
}

/// The rules of a generate() call: per-token facts (pitches, classic onsets), the key (asked
/// for, or a continuation's), its mask where one is asked for, the tempo, the instruments and the
/// gate. `has_primer`: the call continues a primer of its own.
Rules rules_for(const GenerateOptions& o, const music::TokenizerConfig& tokenizer, const music::Vocab& vocab,
                const std::vector<int>& primer_ids, bool has_primer, std::size_t K, bool gate) {
  const bool remi = tokenizer.name == "remi";
  const int V = vocab.size();
  // Per-token facts used by the masks.
  std::vector<int> pitch_of(static_cast<std::size_t>(V), -1);
  std::vector<std::vector<int>> classic_pitches(static_cast<std::size_t>(V));
  std::vector<std::uint64_t> classic_symbol(static_cast<std::size_t>(V));
  for (int id = 0; id < V; ++id) {
    if (remi) {
      if (music::remi_kind(id) == music::RemiKind::kPitch) pitch_of[static_cast<std::size_t>(id)] = music::remi_value(id);
    } else {
      music::Score one = music::classic_decode({vocab.token(id)});
      std::vector<int> ps;
      for (const auto& n : one.notes) ps.push_back(n.pitch);
      std::sort(ps.begin(), ps.end());
      classic_pitches[static_cast<std::size_t>(id)] = ps;
      classic_symbol[static_cast<std::size_t>(id)] = eval::onset_symbol(ps, 6);  // 0.5 quarter = 6 grid units
    }
  }
  // --key conditions a model with Key tokens through them; the pitch mask (forbidden, or
  // less likely by a key strength) is the way for models without, or when asked for.
  const bool key_tokens = remi && tokenizer.remi.keys;
  int key_id = o.key && key_tokens ? music::remi_first_id(music::RemiKind::kKey) + music::remi_key_index(o.key->first, o.key->second) : -1;
  // A continuation carries its primer's key (the primer's last Key conditions the new bars,
  // unless --key is given) and meter (no TimeSig changes).
  const bool continuation = remi && has_primer;
  if (continuation && key_tokens && key_id < 0) {
    for (int id : primer_ids) if (music::remi_kind(id) == music::RemiKind::kKey) key_id = id;
  }
  const bool key_mask = o.key && (o.key_strength >= 0 || !key_tokens);
  const double key_strength = std::max(0.0, o.key_strength);
  // Tokens with a pitch outside --key: forbidden, or (with a key strength) made less likely.
  std::vector<bool> out_of_key(static_cast<std::size_t>(V), false);
  if (key_mask) {
    for (int id = 0; id < V; ++id) {
      auto u = static_cast<std::size_t>(id);
      if (remi) out_of_key[u] = pitch_of[u] >= 0 && !in_scale(pitch_of[u], *o.key);
      else for (int p : classic_pitches[u]) out_of_key[u] = out_of_key[u] || !in_scale(p, *o.key);
    }
  }
  int tempo_only = -1;
  if (remi && o.tempo_bpm > 0) {
    const auto& t = music::remi_tempos();
    int best = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (std::abs(std::log(o.tempo_bpm / t[i])) < std::abs(std::log(o.tempo_bpm / t[static_cast<std::size_t>(best)]))) best = static_cast<int>(i);
    }
    tempo_only = music::remi_first_id(music::RemiKind::kTempo) + best;
  }

  Rules rules;
  rules.remi = remi;
  rules.V = V;
  rules.key_id = key_id;
  rules.tempo_only = tempo_only;
  rules.continuation = continuation;
  rules.key_strength = key_strength;
  rules.out_of_key = std::move(out_of_key);
  rules.instrument_banned = banned_instruments(o, tokenizer, V);
  rules.pitch_of = std::move(pitch_of);
  rules.classic_symbol = std::move(classic_symbol);
  rules.classic_pitches = std::move(classic_pitches);
  rules.instruments = o.instruments ? &*o.instruments : nullptr;
  rules.no_repeat_ngram = o.no_repeat_ngram;
  rules.gate = gate;
  rules.K = K;
  return rules;
}

}  // namespace

std::vector<Piece> Generator::generate(const GenerateOptions& given) {
  torch::NoGradGuard ng;
  GenerateOptions o = given;
  if (o.no_drums && o.instruments) o.instruments->drums = false;
  const bool remi = tokenizer_.name == "remi";
  const int V = vocab_.size();
  const int B = std::max(1, o.num);
  std::vector<std::string> primer = o.primer;
  if (primer.empty()) {
    if (!remi) throw ConfigError("the classic tokenizer needs a start: use --primer FILE.mid or --primer-from-corpus");
    primer = {"Bar"};
  }
  std::vector<int> primer_ids;
  for (const auto& t : primer) primer_ids.push_back(vocab_.id(t));
  const std::size_t K = static_cast<std::size_t>(std::max(0, o.max_copy));
  const bool gate = K > 0 && index_.pieces() > 0;

  const Rules rules = rules_for(o, tokenizer_, vocab_, primer_ids, !given.primer.empty(), K, gate);

  std::vector<Slot> slots(static_cast<std::size_t>(B));
  for (int b = 0; b < B; ++b) {
    Slot& s = slots[static_cast<std::size_t>(b)];
    s.rng.seed(o.seed * 7919ull + static_cast<std::uint64_t>(b));
    s.primer_len = primer_ids.size();
    s.grammar = music::RemiGrammar(tokenizer_.remi);
  }

  // A REMI token's bookkeeping beside the grammar (time, onsets, counts); a repeated bar's
  // body comes here token by token.
  auto keep_books = [&](Slot& s, int id, bool generated) {
    auto kind = music::remi_kind(id);
    if ((kind == music::RemiKind::kPosition || kind == music::RemiKind::kBar) && !s.onset_pitches.empty()) {
      if (generated && gate) s.cursor = index_.step(s.cursor, onset_symbol_of(s));
      s.prev_onset_grid = s.onset_grid;
      s.onset_pitches.clear();
    }
    if (kind == music::RemiKind::kBar) {
      if (s.any_bar) s.bar_start += s.bar_len;
      s.any_bar = true;
      s.bar_len = s.grammar.bar_length();
      if (generated) ++s.bars;
    } else if (kind == music::RemiKind::kTimeSig) {
      s.bar_len = s.grammar.bar_length();
    } else if (kind == music::RemiKind::kPosition) {
      s.onset_grid = s.bar_start + music::remi_value(id);
      s.onset_token = s.ids.size() - 1;  // a repeated bar's: its Repeat token
    } else if (kind == music::RemiKind::kTempo) {
      s.sec_at_tempo += static_cast<double>(s.onset_grid - s.grid_at_tempo) / 12.0 * s.us_per_quarter / 1e6;
      s.grid_at_tempo = s.onset_grid;
      s.us_per_quarter = 60e6 / music::remi_tempos()[static_cast<std::size_t>(music::remi_value(id))];
    } else if (kind == music::RemiKind::kPitch) {
      s.onset_pitches.push_back(music::remi_value(id));
      if (generated) ++s.notes;  // a note is its Pitch (compact REMI may state no Duration)
    } else if (kind == music::RemiKind::kDrum) {
      if (generated) ++s.notes;  // drums are notes, but not an onset's pitches (see eval::onsets)
    }
  };
  // Applies a token to a slot: its ids, grammar and bookkeeping.
  auto apply = [&](Slot& s, int id, bool generated) {
    s.ids.push_back(id);
    if (!remi) {
      if (generated) {
        if (gate) s.cursor = index_.step(s.cursor, rules.classic_symbol[static_cast<std::size_t>(id)]);
        s.notes += rules.classic_pitches[static_cast<std::size_t>(id)].size();
        s.sec += 0.5 * s.us_per_quarter / 1e6;
      }
      return;
    }
    const bool repeat = music::remi_kind(id) == music::RemiKind::kRepeat;
    const std::vector<int> body = repeat ? s.grammar.repeat_body(music::remi_value(id)) : std::vector<int>{};
    if (!s.grammar.feed(id)) throw Error(fmt::format("token '{}' breaks the REMI grammar (primer not well formed?)", vocab_.token(id)));
    if (!repeat) keep_books(s, id, generated);
    for (int b : body) keep_books(s, b, generated);
  };
  // The gate on a bar that repeats an earlier one: a Repeat may come only if its onsets,
  // the last one closed too, extend no copy beyond K.
  auto gate_repeats = [&](const Slot& s, std::vector<bool>& allowed) {
    const int repeat0 = music::remi_first_id(music::RemiKind::kRepeat);
    for (int k = 1; k <= music::RemiSettings::kMaxRepeat && repeat0 + k - 1 < V; ++k) {
      const auto u = static_cast<std::size_t>(repeat0 + k - 1);
      if (!allowed[u]) continue;
      Slot t = s;
      apply(t, repeat0 + k - 1, true);
      std::size_t longest = t.cursor.length;
      if (!t.onset_pitches.empty()) longest = std::max(longest, index_.step(t.cursor, onset_symbol_of(t)).length);
      if (longest > K || t.gated) allowed[u] = false;
    }
  };
  // Ends a slot; an unfinished onset that would extend a copy beyond K is removed first.
  auto finish = [&](Slot& s) {
    if (remi && gate && !s.onset_pitches.empty()) {
      auto closed = index_.step(s.cursor, onset_symbol_of(s));
      if (closed.length > K) {
        s.ids.resize(s.onset_token);
        s.gated = true;
      } else {
        s.cursor = closed;
      }
    }
    s.done = true;
  };

  for (auto& s : slots) for (int id : primer_ids) apply(s, id, false);
  // The model reads and predicts its view of the tokens (pitches relative to the key).
  music::PitchView primer_view = music::PitchView::named(model_->config().pitch_view);
  std::vector<int> primer_model_ids;
  for (int id : primer_ids) primer_model_ids.push_back(static_cast<int>(primer_view.to_model(id)));
  for (auto& s : slots) s.view = primer_view;

  // Prime the model (the last context's worth of tokens for a Transformer).
  std::int64_t ctx = model_->context();
  auto run_prefix = [&](const std::vector<int>& ids, model::State& st) {
    std::vector<std::int64_t> in;
    std::size_t from = ctx > 0 && static_cast<std::int64_t>(ids.size()) > ctx / 2 ? ids.size() - static_cast<std::size_t>(ctx / 2) : 0;
    for (int b = 0; b < B; ++b) for (std::size_t i = from; i < ids.size(); ++i) in.push_back(ids[i]);
    auto x = torch::from_blob(in.data(), {B, static_cast<long>(ids.size() - from)}, torch::kLong).clone().to(device_);
    st = model::State{};
    return model_->forward(x, &st).select(1, -1);  // (B, V)
  };
  model::State state;
  torch::Tensor logits = run_prefix(primer_model_ids, state);
  std::vector<std::vector<int>> model_inputs(static_cast<std::size_t>(B), primer_model_ids);

  std::vector<bool> allowed(static_cast<std::size_t>(V));
  std::vector<double> lg(static_cast<std::size_t>(V));
  std::vector<bool> penalized(static_cast<std::size_t>(V));
  const SamplerSettings sampler{o.temperature, o.top_k, o.top_p, o.repetition_penalty, o.greedy};
  for (int step = 0; step < o.max_tokens; ++step) {
    bool any = false;
    auto L = logits.to(torch::kCPU, torch::kFloat).contiguous();
    float* lp = L.data_ptr<float>();
    std::vector<std::int64_t> next(static_cast<std::size_t>(B), 0);
    for (int b = 0; b < B; ++b) {
      Slot& s = slots[static_cast<std::size_t>(b)];
      next[static_cast<std::size_t>(b)] = s.view.model_of(s.ids.back());
      if (s.done) continue;
      s.view.scores_to_score_ids(lp + static_cast<std::size_t>(b) * static_cast<std::size_t>(V));
      allowed_next(rules, s, index_, allowed);
      if (remi && gate && tokenizer_.remi.repeats) gate_repeats(s, allowed);
      scores_next(rules, s, lp + static_cast<std::size_t>(b) * static_cast<std::size_t>(V), allowed, o.repetition_penalty != 1.0, lg, penalized);
      const int pick = sample_token(lg, penalized, sampler, s.rng);
      if (pick < 0) {  // nothing allowed: the gate closed every way on; end the piece here
        s.gated = true;
        finish(s);
        continue;
      }
      if (long_enough(o, remi, s, pick)) {
        finish(s);
        continue;
      }
      apply(s, pick, true);
      if (!remi && o.notes > 0 && static_cast<int>(s.notes) >= o.notes) finish(s);
      next[static_cast<std::size_t>(b)] = s.view.to_model(pick);
      any = any || !s.done;
    }
    if (!any) break;
    if (o.on_progress && step % 16 == 0) o.on_progress(least_done(o, remi, slots));
    for (int b = 0; b < B; ++b) model_inputs[static_cast<std::size_t>(b)].push_back(static_cast<int>(next[static_cast<std::size_t>(b)]));
    if (!model_->slides() && state.position + 1 > ctx) {
      // A context of learned positions is full: start again from the last half-context of each
      // row. (With rotary positions the model drops its oldest cached steps itself.)
      std::vector<std::int64_t> in;
      std::size_t keep = static_cast<std::size_t>(ctx / 2);
      for (int b = 0; b < B; ++b) {
        const auto& mi = model_inputs[static_cast<std::size_t>(b)];
        for (std::size_t i = mi.size() - keep; i < mi.size(); ++i) in.push_back(mi[i]);
      }
      state = model::State{};
      logits = model_->forward(torch::from_blob(in.data(), {B, static_cast<long>(keep)}, torch::kLong).clone().to(device_), &state).select(1, -1);
    } else {
      logits = model_->forward(torch::from_blob(next.data(), {B, 1}, torch::kLong).clone().to(device_), &state).select(1, -1);
    }
  }
  for (auto& s : slots) if (!s.done) finish(s);

  // Tokens back to music.
  std::vector<Piece> pieces;
  for (auto& s : slots) {
    Piece p;
    p.stopped_by_gate = s.gated;
    std::vector<std::string> all, prim;
    for (int id : s.ids) all.push_back(vocab_.token(id));
    prim.assign(all.begin(), all.begin() + static_cast<long>(s.primer_len));
    music::Score full = music::detokenize(all, tokenizer_);
    std::size_t primer_notes = music::detokenize(prim, tokenizer_).notes.size();
    if (o.keep_primer) {
      p.primer_end_tick = primer_notes < full.notes.size() ? full.notes[primer_notes].start_tick : full.end_tick();
      p.tokens = all;
    } else {
      p.tokens.assign(all.begin() + static_cast<long>(s.primer_len), all.end());
      std::uint64_t shift = 0;
      if (primer_notes < full.notes.size()) {
        std::uint64_t first = full.notes[primer_notes].start_tick;
        std::uint64_t bar = full.bar_ticks_at(first);
        shift = remi ? first - first % bar : first;
      }
      music::Score g = full;
      g.notes.assign(full.notes.begin() + static_cast<long>(std::min(primer_notes, full.notes.size())), full.notes.end());
      for (auto& n : g.notes) n.start_tick -= shift, n.end_tick -= shift;
      auto shift_list = [&](auto& list) {
        using T = typename std::decay_t<decltype(list)>::value_type;
        std::vector<T> out;
        for (auto e : list) {
          if (e.tick <= shift) { e.tick = 0; if (!out.empty() && out.back().tick == 0) out.back() = e; else out.push_back(e); }
          else { e.tick -= shift; out.push_back(e); }
        }
        list = out;
      };
      shift_list(g.tempos);
      shift_list(g.time_signatures);
      full = g;
    }
    if (o.tempo_bpm > 0) full.tempos = {{0, static_cast<std::uint32_t>(std::lround(60e6 / o.tempo_bpm))}};
    if (full.time_signatures.empty()) full.time_signatures = {{0, 4, 4}};
    if (!tokenizer_.remi.instruments) for (auto& n : full.notes) n.program = o.program, n.channel = 0;
    drop_trailing_changes(full);
    p.score = full;
    // Originality of the generated part.
    music::Score gen = full;
    gen.notes.clear();
    for (const auto& n : full.notes) if (n.start_tick >= p.primer_end_tick) gen.notes.push_back(n);
    auto ons = eval::onsets(gen);
    p.copy = index_.longest_copy(ons);
    if (p.copy.piece >= 0 && static_cast<std::size_t>(p.copy.piece) < sources_.size()) p.copy_source = sources_[static_cast<std::size_t>(p.copy.piece)];
    p.notes = gen.notes.size();
    p.seconds = full.seconds(full.end_tick());
    std::uint64_t bar = full.bar_ticks_at(0);
    p.bars = static_cast<int>((full.end_tick() + bar - 1) / bar);
    pieces.push_back(std::move(p));
  }
  return pieces;
}

}  // namespace arioso::generate
