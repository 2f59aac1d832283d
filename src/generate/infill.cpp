// Infilling and accompaniment; see infill.h. The song is quantized as the tokenizer holds it;
// the span is filled a few bars at a time (each step sees the bars filled before it), each step
// arranged as context + Fill (music::remi_fill_arrange) and its middle sampled under the grammar,
// with every bar's opening (meter, key) and the tempo taken from the song. The new notes then go
// back into the song as read, beside its own untouched notes.
#include "generate/infill.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "generate/generate.h"
#include "generate/sampler.h"
#include "music/infill.h"
#include "music/key.h"
#include "music/pitch_view.h"
#include "music/remi.h"

namespace arioso::generate {

std::pair<int, int> parse_bars(const std::string& text) {
  auto dash = text.find('-');
  try {
    int a = std::stoi(text.substr(0, dash));
    int b = dash == std::string::npos ? a : std::stoi(text.substr(dash + 1));
    if (a < 1 || b < a) throw std::invalid_argument("order");
    return {a - 1, b};
  } catch (const std::exception&) {
    throw ConfigError(fmt::format("--bars {}: give FIRST-LAST (1-based, inclusive), e.g. 9-16, or one bar, e.g. 9", text));
  }
}

SeamReport check_seams(const std::vector<music::Note>& added, const std::vector<music::Note>& all, std::uint64_t end_tick) {
  SeamReport r;
  for (const auto& n : added) r.hanging += n.end_tick > end_tick;
  // (channel, pitch) -> (start, end, whether new): the song's own overlaps are not the seams'.
  std::set<std::tuple<std::uint64_t, std::uint64_t, int, int>> fresh;
  for (const auto& n : added) fresh.insert({n.start_tick, n.end_tick, n.channel, n.pitch});
  std::map<std::pair<int, int>, std::vector<std::tuple<std::uint64_t, std::uint64_t, bool>>> by;
  for (const auto& n : all) {
    const bool is_new = fresh.count({n.start_tick, n.end_tick, n.channel, n.pitch}) > 0;
    by[{n.channel, n.pitch}].emplace_back(n.start_tick, std::max(n.end_tick, n.start_tick + 1), is_new);
  }
  for (auto& [k, spans] : by) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      for (std::size_t j = i; j-- > 0;) {  // every earlier note still sounding at this one's start
        if (std::get<1>(spans[j]) <= std::get<0>(spans[i])) continue;
        r.doubled += std::get<2>(spans[i]) || std::get<2>(spans[j]);
      }
    }
  }
  return r;
}

FillMeasures measure_fill(const music::Score& song, const InfillResult& r) {
  FillMeasures m;
  const auto bars = music::bar_starts(song);
  auto bar_of = [&](std::uint64_t t) { return static_cast<int>(std::upper_bound(bars.begin(), bars.end(), t) - bars.begin()) - 1; };
  const int a = bar_of(r.start_tick), b = bar_of(r.end_tick > 0 ? r.end_tick - 1 : 0) + 1;
  const int before = std::max(0, a - 4), after = std::min(static_cast<int>(bars.size()), b + 4);
  music::Score around, original, fresh;
  around.ticks_per_quarter = original.ticks_per_quarter = fresh.ticks_per_quarter = song.ticks_per_quarter;
  for (const auto& n : song.notes) {
    const int bar = bar_of(n.start_tick);
    if (n.start_tick >= r.start_tick && n.start_tick < r.end_tick) original.notes.push_back(n);
    else if (bar >= before && bar < after) around.notes.push_back(n);
  }
  fresh.notes = r.added;
  const music::Key key = music::estimate_key(around);
  m.key_around = key.name();
  static const bool kMajor[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1}, kMinor[12] = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0};
  auto in_key = [&](const music::Score& s) {
    const auto w = music::pitch_class_weights(s);
    double in = 0, all = 0;
    for (int pc = 0; pc < 12; ++pc) {
      all += w[static_cast<std::size_t>(pc)];
      if ((key.minor ? kMinor : kMajor)[(pc - key.tonic + 12) % 12]) in += w[static_cast<std::size_t>(pc)];
    }
    return all > 0 ? in / all : 0.0;
  };
  const int span_bars = std::max(1, b - a), around_bars = std::max(1, (a - before) + (after - b));
  m.notes_per_bar_new = static_cast<double>(fresh.notes.size()) / span_bars;
  m.notes_per_bar_original = static_cast<double>(original.notes.size()) / span_bars;
  m.notes_per_bar_around = static_cast<double>(around.notes.size()) / around_bars;
  m.in_key_new = in_key(fresh);
  m.in_key_original = in_key(original);
  m.in_key_around = in_key(around);
  return m;
}

namespace {

using music::RemiKind;

/// What the song says about each bar of a context: its meter token (and whether the context
/// states it there), its key token, and the tempo in effect at the span.
struct BarOpenings {
  std::vector<int> ts, key;
  std::vector<bool> ts_stated;
  int tempo = -1;
};
BarOpenings openings_of(const std::vector<int>& context, int span_first_rel) {
  BarOpenings o;
  int bar = -1, ts = music::remi_first_id(RemiKind::kTimeSig), tempo_first = -1;
  for (int id : context) {
    const RemiKind k = music::remi_kind(id);
    if (k == RemiKind::kBar) {
      ++bar;
      o.ts.push_back(ts);
      o.key.push_back(-1);
      o.ts_stated.push_back(false);
    } else if (k == RemiKind::kTimeSig && bar >= 0) {
      ts = id;
      o.ts.back() = id;
      o.ts_stated.back() = true;
    } else if (k == RemiKind::kKey && bar >= 0) {
      o.key.back() = id;
    } else if (k == RemiKind::kTempo) {
      if (tempo_first < 0) tempo_first = id;
      if (bar <= span_first_rel) o.tempo = id;  // the tempo in effect as the span begins
    }
  }
  if (o.tempo < 0) o.tempo = tempo_first >= 0 ? tempo_first : music::remi_first_id(RemiKind::kTempo);
  return o;
}

}  // namespace

std::vector<int> Generator::sample_middle(const std::vector<int>& context, int span_first_rel, int span_bars,
                                          const std::vector<bool>& may_play, const music::InstrumentSet* require,
                                          const InfillOptions& o, std::mt19937_64& rng) {
  torch::NoGradGuard ng;
  const int V = vocab_.size();
  const int bar_id = music::remi_first_id(RemiKind::kBar), fill_end = vocab_.id("FillEnd");
  const BarOpenings song = openings_of(context, span_first_rel);
  // The model reads its view of the tokens (pitches relative to the key: music/pitch_view.h).
  music::PitchView view = music::PitchView::named(model_->config().pitch_view);
  std::vector<std::int64_t> in;
  for (int id : context) in.push_back(view.to_model(id));
  model::State st;
  auto logits = model_->forward(torch::from_blob(in.data(), {1, static_cast<long>(in.size())}, torch::kLong).clone().to(device_), &st).select(1, -1);
  music::RemiGrammar g(music::written_out(tokenizer_.remi));  // a middle is written out
  std::vector<int> out;
  std::vector<bool> allowed;
  std::vector<double> lg(static_cast<std::size_t>(V));
  const SamplerSettings sampler{o.temperature, o.top_k, o.top_p, 1.0, o.greedy};
  int last = -1;
  const std::int64_t ctx = model_->context();
  for (int step = 0; step < 4000; ++step) {
    // A Transformer of learned positions (runs from before rotary ones) cannot go past its
    // context: the middle ends there, cut at a clean point by the decoder.
    if (ctx > 0 && !model_->slides() && static_cast<std::int64_t>(context.size() + out.size()) >= ctx) break;
    g.allowed(allowed);
    allowed.resize(static_cast<std::size_t>(V), false);
    const int bar = g.bars() - 1;  // this middle bar, -1 before the first
    const auto span_bar = static_cast<std::size_t>(span_first_rel + std::max(0, bar));
    // The middle states every bar of the span, then ends (or is empty: FillEnd first).
    allowed[static_cast<std::size_t>(fill_end)] = step == 0 || (g.bars() >= span_bars && allowed[static_cast<std::size_t>(bar_id)]);
    if (g.bars() >= span_bars) allowed[static_cast<std::size_t>(bar_id)] = false;
    for (int id = 0; id < V; ++id) {
      auto u = static_cast<std::size_t>(id);
      if (!allowed[u]) continue;
      const RemiKind k = music::remi_kind(id);
      if (k == RemiKind::kTimeSig) allowed[u] = id == song.ts[span_bar] && (bar == 0 || song.ts_stated[span_bar]);
      else if (k == RemiKind::kKey) allowed[u] = song.key[span_bar] < 0 || id == song.key[span_bar];
      else if (k == RemiKind::kTempo) allowed[u] = id == song.tempo;
      else if (k == RemiKind::kDrum) allowed[u] = may_play[music::RemiSettings::kDrums];
      else if (k == RemiKind::kProgram) allowed[u] = may_play[static_cast<std::size_t>(music::remi_value(id))];
    }
    // The song's meter changes here: its TimeSig comes first.
    if (last == bar_id && (bar == 0 || song.ts_stated[span_bar])) {
      std::fill(allowed.begin(), allowed.end(), false);
      allowed[static_cast<std::size_t>(song.ts[span_bar])] = true;
    }
    if (require && g.in_header()) require_header(g, *require, allowed);
    auto L = logits.to(torch::kCPU, torch::kFloat).contiguous();
    float* lp = L.data_ptr<float>();
    view.scores_to_score_ids(lp);
    for (int id = 0; id < V; ++id) lg[static_cast<std::size_t>(id)] = allowed[static_cast<std::size_t>(id)] ? lp[id] : -INFINITY;
    const int pick = sample_token(lg, {}, sampler, rng);
    if (pick < 0 || pick == fill_end) break;
    if (!g.feed(pick)) throw Error(fmt::format("infill: sampled '{}', which breaks the grammar", vocab_.token(pick)));
    out.push_back(pick);
    last = pick;
    std::int64_t next = view.to_model(pick);
    logits = model_->forward(torch::from_blob(&next, {1, 1}, torch::kLong).clone().to(device_), &st).select(1, -1);
  }
  return out;
}

double Generator::middle_nll(const std::vector<int>& context, const std::vector<int>& middle) {
  torch::NoGradGuard ng;
  std::vector<std::int64_t> all(context.begin(), context.end());
  all.insert(all.end(), middle.begin(), middle.end());
  music::to_model_ids(all, music::PitchView::named(model_->config().pitch_view));
  auto x = torch::from_blob(all.data(), {1, static_cast<long>(all.size())}, torch::kLong).clone().to(device_);
  auto lp = torch::log_softmax(model_->forward(x.slice(1, 0, static_cast<long>(all.size()) - 1), nullptr)[0].to(torch::kDouble), -1);
  auto target = x[0].slice(0, static_cast<long>(context.size()));
  return -lp.slice(0, static_cast<long>(context.size()) - 1).gather(1, target.unsqueeze(1)).sum().item<double>();
}

namespace {

/// Which instruments are filled (those asked for that the song has), which the model may play
/// (those, or every part of the song when none are asked for), and the items of the request
/// the song lacks (parts to add: one instrument of each, of the model's choice in the header).
struct FillPlan {
  std::vector<bool> fill = std::vector<bool>(129, false), may_play = std::vector<bool>(129, false);
  std::optional<music::InstrumentSet> require;
};
FillPlan plan_instruments(const InfillOptions& o, const std::vector<bool>& in_song) {
  FillPlan p;
  if (!o.instruments) {
    if (o.add) throw ConfigError("accompany: name the parts to add (--add)");
    p.may_play = in_song;
    return p;
  }
  for (const auto& grp : o.instruments->groups) {
    bool found = false;
    for (int i : grp) if (in_song[static_cast<std::size_t>(i)] && !o.add) p.fill[static_cast<std::size_t>(i)] = found = true;
    if (found) continue;
    for (int i : grp) p.may_play[static_cast<std::size_t>(i)] = true;
    if (!p.require) p.require.emplace();
    p.require->groups.push_back(grp);
  }
  for (int i = 0; i <= 128; ++i) p.may_play[static_cast<std::size_t>(i)] = p.may_play[static_cast<std::size_t>(i)] || p.fill[static_cast<std::size_t>(i)];
  return p;
}

/// A score's note order: by onset, then pitch.
bool by_time(const music::Note& x, const music::Note& y) { return std::tie(x.start_tick, x.pitch) < std::tie(y.start_tick, y.pitch); }

/// The instruments of a song's notes (programs, 128 drums).
std::vector<bool> instruments_in(const std::vector<music::Note>& notes) {
  std::vector<bool> in(129, false);
  for (const auto& n : notes) in[static_cast<std::size_t>(music::instrument_of(n))] = true;
  return in;
}

/// A note at 480 ticks per quarter moved to `tpq`.
std::uint64_t to_tpq(std::uint64_t tick480, int tpq) { return (tick480 * static_cast<std::uint64_t>(tpq) + 240) / 480; }

}  // namespace

std::vector<music::Note> Generator::sample_step(const std::vector<int>& context, int span_first_rel, int span_bars,
                                                const std::vector<bool>& may_play, const music::InstrumentSet* require,
                                                const InfillOptions& o, std::mt19937_64& rng, const std::vector<std::uint64_t>& bars,
                                                const music::FillSpan& step, const std::vector<music::Note>& before,
                                                std::vector<bool>& declared, int& retries) {
  // The gate: a middle whose onsets, after those filled before, copy more than max_copy
  // onsets of a training piece is sampled again; the least copied of four is kept.
  const std::size_t K = static_cast<std::size_t>(std::max(0, o.max_copy));
  std::vector<music::Note> best;
  std::size_t best_copy = SIZE_MAX;
  for (int attempt = 0; attempt < 4 && best_copy > K; ++attempt) {
    if (attempt > 0) ++retries;
    std::vector<std::string> middle;
    std::vector<bool> header(129, false);
    bool in_header = true;
    for (int id : sample_middle(context, span_first_rel, span_bars, may_play, require, o, rng)) {
      middle.push_back(vocab_.token(id));
      if (music::remi_kind(id) == RemiKind::kPosition) in_header = false;
      if (in_header && music::remi_kind(id) == RemiKind::kProgram) header[static_cast<std::size_t>(music::remi_value(id))] = true;
    }
    auto notes = music::remi_fill_notes(middle, bars, step, tokenizer_.remi);
    music::Score probe;
    probe.notes = before;
    probe.notes.insert(probe.notes.end(), notes.begin(), notes.end());
    const std::size_t copy = K > 0 && index_.pieces() > 0 ? index_.longest_copy(eval::onsets(probe)).longest_onsets : 0;
    if (copy < best_copy) best_copy = copy, best = std::move(notes), declared = header;
  }
  return best;
}

InfillResult Generator::infill(const music::Score& given, const InfillOptions& given_options) {
  InfillOptions o = given_options;
  if (tokenizer_.name != "remi" || !tokenizer_.remi.infill || !vocab_.find("FillEnd")) {
    throw ConfigError("this run cannot fill in: its tokenizer has no Fill markers (train a new run with the default tokenizer, remi)");
  }
  if (meta_.train.value("infill_share", 0.0) <= 0) {
    throw ConfigError("this run was trained with --infill-share 0: it never learned to fill in (train with the default share)");
  }
  InfillResult r;
  const music::Score song = music::select_parts(given, music::parse_part_selection(tokenizer_.parts));
  music::Score q = music::remi_quantize(song, tokenizer_.remi);
  const auto song_bars = music::remi_bar_ticks(q);
  const int n_bars = static_cast<int>(song_bars.size()) - 1;
  if (o.add) o.first_bar = 0, o.end_bar = n_bars;
  if (o.end_bar > n_bars || o.first_bar >= o.end_bar) {
    throw ConfigError(fmt::format("--bars {}-{}: the song has {} bars", o.first_bar + 1, o.end_bar, n_bars));
  }
  FillPlan plan = plan_instruments(o, instruments_in(q.notes));
  std::vector<bool>& may_play = plan.may_play;
  std::optional<music::InstrumentSet>& require = plan.require;
  music::FillSpan span;
  span.first_bar = o.first_bar;
  span.end_bar = o.end_bar;
  if (o.instruments) span.instruments = may_play;  // notes of these in the span are the middle's
  const auto bar_keys = music::remi_bar_keys(q);
  // The song's notes the new material replaces leave the working score now.
  const std::uint64_t a480 = song_bars[static_cast<std::size_t>(o.first_bar)], b480 = song_bars[static_cast<std::size_t>(o.end_bar)];
  auto replaced = [&](const music::Note& n480) { return !o.add && n480.start_tick >= a480 && n480.start_tick < b480 && span.fills_instrument(n480); };
  music::Score work = q;
  work.notes.erase(std::remove_if(work.notes.begin(), work.notes.end(), replaced), work.notes.end());
  const int window = std::max(64, meta_.train.value("window", 256));
  std::vector<std::uint16_t> plain_ids;
  for (const auto& t : music::remi_encode(q, music::written_out(tokenizer_.remi))) plain_ids.push_back(static_cast<std::uint16_t>(vocab_.id(t)));
  auto per_bar = music::remi_tokens_per_bar(plain_ids);
  per_bar.resize(static_cast<std::size_t>(n_bars), per_bar.empty() ? 8 : per_bar.back());
  std::mt19937_64 rng(o.seed * 7919ull + 17);
  std::vector<music::Note> new480;
  for (int a = o.first_bar; a < o.end_bar;) {
    // Up to chunk_bars bars a step, as many as keep the middle within half the window.
    int g = 1;
    const int most = o.chunk_bars > 0 ? o.chunk_bars : 4;
    int tokens = per_bar[static_cast<std::size_t>(a)];
    while (g < most && a + g < o.end_bar && tokens + per_bar[static_cast<std::size_t>(a + g)] <= window / 2) tokens += per_bar[static_cast<std::size_t>(a + g++)];
    music::FillSpan step = span;
    step.first_bar = a;
    step.end_bar = a + g;
    step.absent = o.add && new480.empty();
    auto [from, to] = music::remi_fill_region(per_bar, step, std::max(0, window - tokens - (g + 4)), 0.5);
    music::Score current = work;
    current.notes.insert(current.notes.end(), new480.begin(), new480.end());
    std::sort(current.notes.begin(), current.notes.end(), by_time);
    const auto fa = music::remi_fill_arrange(current, bar_keys, from, to, step, tokenizer_.remi);
    std::vector<int> context;
    for (const auto& t : fa.context) context.push_back(vocab_.id(t));
    const auto& bars = song_bars;  // the working score keeps the song's meters, so its bar lines
    // Filling every part: each part that plays in these bars of the song plays in the new ones.
    std::optional<music::InstrumentSet> band;
    if (!o.instruments) {
      std::vector<bool> here(129, false);
      for (const auto& n : q.notes) {
        if (n.start_tick >= bars[static_cast<std::size_t>(a)] && n.start_tick < bars[static_cast<std::size_t>(a + g)]) here[static_cast<std::size_t>(music::instrument_of(n))] = true;
      }
      band.emplace();
      for (int i = 0; i <= 128; ++i) if (here[static_cast<std::size_t>(i)]) band->groups.push_back({i});
      if (band->groups.empty()) band.reset();
    }
    const music::InstrumentSet* wanted = require ? &*require : band ? &*band : nullptr;
    std::vector<bool> declared;  // the kept middle's header: the instruments it composes for
    const std::vector<music::Note> best = sample_step(context, a - from, g, may_play, wanted, o, rng, bars, step, new480, declared, r.retries);
    if (o.score) {  // the new middle and the song's own bars there, given the same context
      auto middle_of = [&](const std::vector<music::Note>& notes) {
        music::Score with = current;
        with.notes.insert(with.notes.end(), notes.begin(), notes.end());
        std::sort(with.notes.begin(), with.notes.end(), by_time);
        std::vector<int> ids;
        for (const auto& t : music::remi_fill_arrange(with, bar_keys, from, to, step, tokenizer_.remi).middle) ids.push_back(vocab_.id(t));
        return ids;
      };
      std::vector<music::Note> own;
      for (const auto& n : q.notes) {
        if (replaced(n) && n.start_tick >= bars[static_cast<std::size_t>(a)] && n.start_tick < bars[static_cast<std::size_t>(a + g)]) own.push_back(n);
      }
      r.nll_original += middle_nll(context, middle_of(own));
      r.nll_new += middle_nll(context, middle_of(best));
      r.notes_original += own.size();
      r.notes_new += best.size();
    }
    // The first step that named the new parts' instruments chose them: they stay.
    if (require && std::count(declared.begin(), declared.end(), true) > 0) {
      for (int i = 0; i <= 128; ++i) {
        may_play[static_cast<std::size_t>(i)] = declared[static_cast<std::size_t>(i)] || plan.fill[static_cast<std::size_t>(i)];
      }
      require.reset();
      span.instruments = may_play;
    }
    new480.insert(new480.end(), best.begin(), best.end());
    ++r.chunks;
    a += g;
  }
  return finish_infill(given, q, new480, o, std::move(r));
}

namespace {

// The song's notes that stay: all but those of the replaced instruments that start in [a, b)
// and that the tokenizer holds (notes out of its range, or of parts beyond the kept ones, stay).
std::vector<music::Note> kept_song_notes(const music::Score& given, std::uint64_t a, std::uint64_t b, const InfillOptions& o, std::size_t& replaced) {
  std::vector<bool> replaced_instrument(129, o.add ? false : !o.instruments);
  if (!o.add && o.instruments) {
    for (const auto& grp : o.instruments->groups) for (int i : grp) replaced_instrument[static_cast<std::size_t>(i)] = true;
  }
  auto held = [](const music::Note& n) {  // what the tokenizer reads of a note
    return n.drum() ? n.pitch >= music::RemiSettings::kMinDrum && n.pitch <= music::RemiSettings::kMaxDrum
                    : n.pitch >= music::RemiSettings::kMinPitch && n.pitch <= music::RemiSettings::kMaxPitch;
  };
  std::vector<music::Note> kept;
  for (const auto& n : given.notes) {
    const bool in_span = n.start_tick >= a && n.start_tick < b;
    if (in_span && held(n) && replaced_instrument[static_cast<std::size_t>(music::instrument_of(n))]) {
      ++replaced;
      continue;
    }
    kept.push_back(n);
  }
  return kept;
}

// Where each filled instrument plays: its (channel, track) in the song (the most used), else a
// free channel (drums on 10) and a new track.
std::map<int, std::pair<int, int>> place_instruments(const music::Score& given, const std::vector<bool>& filled) {
  std::map<int, std::map<std::pair<int, int>, int>> uses;
  std::set<int> channels;
  int tracks = 0;
  for (const auto& n : given.notes) ++uses[music::instrument_of(n)][{n.channel, n.track}], channels.insert(n.channel), tracks = std::max(tracks, n.track + 1);
  std::map<int, std::pair<int, int>> place;
  for (int i = 0; i <= 128; ++i) {
    if (!filled[static_cast<std::size_t>(i)]) continue;
    auto it = uses.find(i);
    if (it != uses.end()) {
      place[i] = std::max_element(it->second.begin(), it->second.end(), [](auto& x, auto& y) { return x.second < y.second; })->first;
      continue;
    }
    int ch = 9;
    if (i != 128) {
      ch = 0;
      while (ch < 16 && (ch == 9 || channels.count(ch))) ++ch;
      if (ch >= 16) ch = 0;
    }
    channels.insert(ch);
    place[i] = {ch, tracks++};
  }
  return place;
}

}  // namespace

// The new notes (on the 480-tick grid) into the song at its resolution. At the seams a new note
// ends by the span's end and by the next onset of its pitch on its channel; one that would start
// while a kept note of its pitch sounds is left out.
InfillResult Generator::finish_infill(const music::Score& given, const music::Score& q,
                                      std::vector<music::Note> new480, const InfillOptions& o, InfillResult r) {
  const auto song_bars = music::remi_bar_ticks(q);
  const int tpq = given.ticks_per_quarter;
  const std::uint64_t a = to_tpq(song_bars[static_cast<std::size_t>(o.first_bar)], tpq), b = to_tpq(song_bars[static_cast<std::size_t>(o.end_bar)], tpq);
  r.first_bar = o.first_bar;
  r.end_bar = o.end_bar;
  r.start_tick = a;
  r.end_tick = b;
  const std::vector<bool> filled = instruments_in(new480);
  music::Score out = given;
  out.notes = kept_song_notes(given, a, b, o, r.replaced);
  r.kept = out.notes.size();
  auto place = place_instruments(given, filled);
  std::map<std::pair<int, int>, std::vector<std::pair<std::uint64_t, std::uint64_t>>> sounding;
  for (const auto& n : out.notes) sounding[{n.channel, n.pitch}].emplace_back(n.start_tick, n.end_tick);
  for (auto& [k, v] : sounding) std::sort(v.begin(), v.end());
  std::sort(new480.begin(), new480.end(), by_time);
  for (const auto& m : new480) {
    music::Note n = m;
    std::tie(n.channel, n.track) = place[music::instrument_of(m)];
    n.start_tick = to_tpq(m.start_tick, tpq);
    n.end_tick = std::min(b, to_tpq(m.end_tick, tpq));
    auto& v = sounding[{n.channel, n.pitch}];
    bool blocked = n.end_tick <= n.start_tick;
    for (const auto& [s, e] : v) {
      if (s <= n.start_tick && n.start_tick < std::max(e, s + 1)) blocked = true;
      if (s > n.start_tick) n.end_tick = std::min(n.end_tick, s);
    }
    if (blocked || n.end_tick <= n.start_tick) {
      ++r.dropped_at_seams;
      continue;
    }
    v.emplace_back(n.start_tick, n.end_tick);
    std::sort(v.begin(), v.end());
    r.added.push_back(n);
  }
  out.notes.insert(out.notes.end(), r.added.begin(), r.added.end());
  std::stable_sort(out.notes.begin(), out.notes.end(), by_time);
  for (int i = 0; i <= 128; ++i) if (filled[static_cast<std::size_t>(i)]) r.instruments.push_back(i);
  music::Score fresh;
  fresh.ticks_per_quarter = tpq;
  fresh.tempos = given.tempos;
  fresh.notes = r.added;
  r.copy = index_.longest_copy(eval::onsets(fresh));
  if (r.copy.piece >= 0 && static_cast<std::size_t>(r.copy.piece) < sources_.size()) r.copy_source = sources_[static_cast<std::size_t>(r.copy.piece)];
  r.score = std::move(out);
  return r;
}

}  // namespace arioso::generate
