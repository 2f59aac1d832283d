// The training loop; see train.h. One plain loop: build a batch of windows, forward, loss,
// backward, clip, step; validate each epoch; checkpoint. Data order is a pure function of
// (seed, epoch), so a resumed run replays exactly the batches an uninterrupted one would.
#include "train/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/files.h"
#include "data/run_folder.h"
#include "model/checkpoint.h"
#include "music/infill.h"
#include "music/pitch_view.h"
#include "music/tokenizer.h"

namespace fs = std::filesystem;

namespace arioso::train {

nlohmann::json TrainOptions::to_json() const {
  return {{"corpus", corpus}, {"arch", arch}, {"preset", preset}, {"scalar_input", scalar_input}, {"epochs", epochs},
          {"time_limit_min", time_limit_min}, {"batch_size", batch_size}, {"window", window}, {"lr", lr},
          {"weight_decay", weight_decay}, {"dropout", dropout}, {"clip", clip}, {"warmup_fraction", warmup_fraction}, {"optimizer", optimizer},
          {"augment", augment}, {"pitch_view", pitch_view}, {"infill_share", infill_share}, {"patience", patience}, {"seed", seed}, {"threads", threads}, {"device", device},
          {"world_size", dist.world_size}};
}

static TrainOptions options_from_json(const nlohmann::json& j, TrainOptions o) {
  o.corpus = j.value("corpus", o.corpus);
  o.arch = j.value("arch", o.arch);
  o.preset = j.value("preset", o.preset);
  o.scalar_input = j.value("scalar_input", o.scalar_input);
  o.batch_size = j.value("batch_size", o.batch_size);
  o.window = j.value("window", o.window);
  o.lr = j.value("lr", o.lr);
  o.weight_decay = j.value("weight_decay", o.weight_decay);
  o.dropout = j.value("dropout", o.dropout);
  o.clip = j.value("clip", o.clip);
  o.warmup_fraction = j.value("warmup_fraction", o.warmup_fraction);
  o.optimizer = j.value("optimizer", o.optimizer);
  o.augment = j.value("augment", o.augment);
  o.pitch_view = j.value("pitch_view", "absolute");
  o.infill_share = j.value("infill_share", 0.0);  // runs from before infilling had none
  o.patience = j.value("patience", o.patience);
  o.seed = j.value("seed", o.seed);
  if (o.epochs < 0) o.epochs = j.value("epochs", 20);
  if (o.time_limit_min <= 0) o.time_limit_min = j.value("time_limit_min", 0.0);
  return o;
}

void check_new_run_dir(const std::string& run_dir) {
  if (fs::exists(run_dir + "/last.pt")) {
    throw Error(fmt::format("{}: already holds a run (last.pt); use --resume {} or another -o", run_dir, run_dir));
  }
}

double scheduled_lr(double base, double warmup, double total, std::int64_t step) {
  double s = static_cast<double>(step);
  double warm = std::min(1.0, (s + 1) / std::max(1.0, warmup));
  double p = std::clamp((s - warmup) / std::max(1.0, total - warmup), 0.0, 1.0);
  return base * warm * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * p)));
}

Scores score_sequence(model::SequenceModel& m, const std::vector<std::uint16_t>& written, torch::Device device, bool keep_tokens) {
  Scores s;
  if (written.size() < 2) return s;
  std::vector<std::uint16_t> tokens = written;  // as the model reads them (music/pitch_view.h)
  music::to_model_ids(tokens, music::PitchView::named(m.config().pitch_view));
  torch::NoGradGuard ng;
  auto all = torch::from_blob(const_cast<std::uint16_t*>(tokens.data()), {static_cast<long>(tokens.size())}, torch::kInt16)
                 .to(torch::kLong)
                 .to(device);
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  auto add = [&](const torch::Tensor& logits, const torch::Tensor& target) {  // (T, V), (T)
    auto lp = torch::log_softmax(logits.to(torch::kDouble), -1).gather(1, target.unsqueeze(1)).squeeze(1);
    auto hit = logits.argmax(-1) == target;
    s.nll_sum -= lp.sum().item<double>();
    s.correct += hit.sum().item<std::int64_t>();
    s.tokens += target.size(0);
    if (keep_tokens) {
      auto nll = (-lp).to(torch::kFloat).cpu().contiguous();
      auto ok = hit.cpu().contiguous();
      for (std::int64_t i = 0; i < nll.size(0); ++i) {
        s.token_nll.push_back(nll.data_ptr<float>()[i]);
        s.token_right.push_back(ok.data_ptr<bool>()[i]);
      }
    }
  };
  if (m.context() == 0) {
    // LSTM: the state is carried across chunks, so every prediction sees the whole piece so far.
    model::State st;
    const std::int64_t chunk = 512;
    for (std::int64_t i = 0; i + 1 < n; i += chunk) {
      std::int64_t e = std::min(n - 1, i + chunk);
      auto x = all.slice(0, i, e).unsqueeze(0);
      add(m.forward(x, &st)[0], all.slice(0, i + 1, e + 1));
    }
  } else {
    // Transformer: sliding windows of the context with half-context stride; each token is scored
    // once, in the window where it has the most context before it.
    const std::int64_t C = m.context(), stride = std::max<std::int64_t>(1, C / 2);
    for (std::int64_t begin = 0;; begin += stride) {
      std::int64_t e = std::min(n - 1, begin + C);
      auto logits = m.forward(all.slice(0, begin, e).unsqueeze(0), nullptr)[0];
      std::int64_t from = begin == 0 ? 0 : C - stride;
      if (from < e - begin) add(logits.slice(0, from), all.slice(0, begin + from + 1, e + 1));
      if (e >= n - 1) break;
    }
  }
  return s;
}

namespace {
/// score_sequences for an LSTM, on the ids the model reads: pieces side by side in batches.
std::vector<Scores> score_lstm_rows(model::SequenceModel& m, const std::vector<const std::vector<std::uint16_t>*>& pieces,
                                    torch::Device device, bool keep_tokens) {
  std::vector<Scores> out(pieces.size());
  torch::NoGradGuard ng;
  // Longest first, so rows of one batch have similar lengths and little padding.
  std::vector<std::size_t> order(pieces.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pieces[a]->size() > pieces[b]->size(); });
  constexpr std::size_t kRows = 16;
  constexpr std::int64_t kChunk = 256;
  for (std::size_t b0 = 0; b0 < order.size(); b0 += kRows) {
    std::size_t rows = std::min(kRows, order.size() - b0);
    std::int64_t len = static_cast<std::int64_t>(pieces[order[b0]]->size());
    if (len < 2) continue;
    auto x = torch::zeros({static_cast<long>(rows), len}, torch::kLong);
    auto valid = torch::zeros({static_cast<long>(rows), len}, torch::kBool);
    auto xa = x.accessor<std::int64_t, 2>();
    auto va = valid.accessor<bool, 2>();
    for (std::size_t r = 0; r < rows; ++r) {
      const auto& t = *pieces[order[b0 + r]];
      for (std::size_t i = 0; i < t.size(); ++i) {
        xa[static_cast<long>(r)][static_cast<long>(i)] = t[i];
        va[static_cast<long>(r)][static_cast<long>(i)] = true;
      }
    }
    x = x.to(device);
    valid = valid.to(device);
    model::State st;
    std::vector<double> nll(rows, 0);
    std::vector<std::int64_t> correct(rows, 0), count(rows, 0);
    std::vector<std::vector<float>> row_tokens(keep_tokens ? rows : 0);
    std::vector<std::vector<bool>> row_right(keep_tokens ? rows : 0);
    for (std::int64_t i = 0; i + 1 < len; i += kChunk) {
      std::int64_t e = std::min(len - 1, i + kChunk);
      auto logits = m.forward(x.slice(1, i, e), &st);  // (R, T, V)
      auto target = x.slice(1, i + 1, e + 1);
      auto mask = valid.slice(1, i + 1, e + 1).to(torch::kDouble);
      auto lp = torch::log_softmax(logits.to(torch::kDouble), -1).gather(2, target.unsqueeze(2)).squeeze(2);
      auto row_nll = (-lp * mask).sum(1).cpu();
      auto row_ok = ((logits.argmax(-1) == target).to(torch::kDouble) * mask).sum(1).cpu();
      auto row_n = mask.sum(1).cpu();
      if (keep_tokens) {
        auto tok = (-lp).to(torch::kFloat).cpu().contiguous();                     // (R, T)
        auto hit = (logits.argmax(-1) == target).cpu().contiguous();               // (R, T)
        const std::int64_t Tc = tok.size(1);
        for (std::size_t r = 0; r < rows; ++r) {
          const std::int64_t n_r = static_cast<std::int64_t>(pieces[order[b0 + r]]->size()) - 1;  // targets of this row
          for (std::int64_t t = 0; t < Tc && i + t < n_r; ++t) {
            row_tokens[r].push_back(tok.data_ptr<float>()[static_cast<std::int64_t>(r) * Tc + t]);
            row_right[r].push_back(hit.data_ptr<bool>()[static_cast<std::int64_t>(r) * Tc + t]);
          }
        }
      }
      for (std::size_t r = 0; r < rows; ++r) {
        nll[r] += row_nll[static_cast<long>(r)].item<double>();
        correct[r] += static_cast<std::int64_t>(row_ok[static_cast<long>(r)].item<double>());
        count[r] += static_cast<std::int64_t>(row_n[static_cast<long>(r)].item<double>());
      }
    }
    for (std::size_t r = 0; r < rows; ++r) {
      out[order[b0 + r]] = Scores{nll[r], count[r], correct[r], {}, {}};
      if (keep_tokens) {
        out[order[b0 + r]].token_nll = std::move(row_tokens[r]);
        out[order[b0 + r]].token_right = std::move(row_right[r]);
      }
    }
  }
  return out;
}
}  // namespace

std::vector<Scores> score_sequences(model::SequenceModel& m, const std::vector<const std::vector<std::uint16_t>*>& pieces,
                                    torch::Device device, bool keep_tokens) {
  if (m.context() != 0) {
    std::vector<Scores> out(pieces.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) out[i] = score_sequence(m, *pieces[i], device, keep_tokens);
    return out;
  }
  std::vector<std::vector<std::uint16_t>> viewed;  // as the model reads them (music/pitch_view.h)
  viewed.reserve(pieces.size());
  std::vector<const std::vector<std::uint16_t>*> rows;
  for (const auto* p : pieces) {
    viewed.push_back(*p);
    music::to_model_ids(viewed.back(), music::PitchView::named(m.config().pitch_view));
    rows.push_back(&viewed.back());
  }
  return score_lstm_rows(m, rows, device, keep_tokens);
}

namespace {

struct Lr {
  double base, warmup, total;
  double at(std::int64_t step) const { return scheduled_lr(base, warmup, total, step); }
};

/// The summary's reason, in words.
std::string stop_detail(const TrainResult& r, const TrainOptions& opt, double elapsed_s) {
  const double done = r.epochs.empty() ? 0.0 : static_cast<double>(r.epochs.back().epoch);
  if (r.stopped_because == "time limit") {
    return fmt::format("the {:g}-minute budget was used ({:.1f} min)", opt.time_limit_min, elapsed_s / 60);
  }
  if (r.stopped_because == "early stopping") {
    return fmt::format("validation NLL did not improve for {} epochs (--patience){}", opt.patience,
                       opt.time_limit_min > 0 ? " and a tenth of the budget" : "");
  }
  if (r.stopped_because == "interrupted") return "interrupted; last.pt holds the state to --resume from";
  return fmt::format("all {} epochs done{}", opt.epochs, done > 0 ? "" : " (none were left)");
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& opt, const std::vector<torch::Tensor>& params) {
  if (opt.optimizer == "adamw") {
    return std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(opt.lr).weight_decay(opt.weight_decay));
  }
  if (opt.optimizer == "rmsprop") return std::make_unique<torch::optim::RMSprop>(params, torch::optim::RMSpropOptions(opt.lr));
  throw ConfigError(fmt::format("--optimizer {}: use adamw or rmsprop", opt.optimizer));
}

/// One epoch's windows of the training stream: T-token windows from a random offset, in a
/// random order, each with a random transposition in [-6, 5] semitones.
struct EpochWindows {
  std::vector<std::int64_t> starts;
  std::vector<int> shifts;
  std::vector<std::uint64_t> fill;  ///< per window: 0, or the seed of its fill-in-the-middle arrangement
};

EpochWindows epoch_windows(std::uint64_t seed, std::int64_t epoch, std::int64_t T, std::size_t stream_size, double fill_share) {
  std::mt19937_64 rng(seed * 1000003ull + static_cast<std::uint64_t>(epoch));
  EpochWindows w;
  std::int64_t offset = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(T));
  for (std::int64_t s = offset; s + T + 1 <= static_cast<std::int64_t>(stream_size); s += T) w.starts.push_back(s);
  std::shuffle(w.starts.begin(), w.starts.end(), rng);
  w.shifts.assign(w.starts.size(), 0);
  for (auto& sh : w.shifts) sh = static_cast<int>(rng() % 12) - 6;
  w.fill.assign(w.starts.size(), 0);
  if (fill_share > 0) {  // drawn after the rest, so that plain windows are those of a run without
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& f : w.fill) f = u(rng) < fill_share ? (rng() | 1) : 0;
  }
  return w;
}

/// The training pieces one after another, with where each begins and its header (the tokens
/// that name its instruments, music::header_span).
struct Stream {
  std::vector<std::int64_t> tokens;
  std::vector<std::int64_t> piece_start, header_begin, header_end;  // per piece, in stream positions
  /// Per piece, for fill-in-the-middle windows (corpora with infill markers): its music, the
  /// key of each bar and its tokens per bar.
  struct FillPiece {
    music::Score score;
    std::vector<int> bar_keys, tokens_per_bar;
  };
  std::vector<FillPiece> fill;
  music::RemiOptions remi;
  std::size_t size() const { return tokens.size(); }
  std::size_t piece_at(std::int64_t s) const {
    auto it = std::upper_bound(piece_start.begin(), piece_start.end(), s);
    return static_cast<std::size_t>(std::max<long>(0, it - piece_start.begin() - 1));
  }
  /// The header of the piece holding position `s`, unless `s` is at or before its end.
  std::pair<std::int64_t, std::int64_t> header_before(std::int64_t s) const {
    auto it = std::upper_bound(piece_start.begin(), piece_start.end(), s);
    if (it == piece_start.begin()) return {0, 0};
    const auto p = static_cast<std::size_t>(it - piece_start.begin() - 1);
    if (s < header_end[p]) return {0, 0};
    return {header_begin[p], header_end[p]};
  }
};

Stream training_stream(const data::Corpus& corpus, bool with_fill) {
  Stream st;
  st.remi = corpus.tokenizer.remi;
  const auto kinds = music::token_kinds(corpus.vocab.tokens(), corpus.tokenizer);
  for (const auto& p : corpus.pieces) {
    if (p.split != data::Split::kTrain) continue;
    if (with_fill) {
      Stream::FillPiece f;
      std::vector<std::string> text;
      for (auto id : p.tokens) text.push_back(corpus.vocab.token(id));
      f.score = music::remi_decode(text, st.remi);
      f.bar_keys = music::remi_bar_keys(f.score);
      // What each bar costs written out, as a fill arrangement writes it (no Repeat).
      std::vector<std::uint16_t> written;
      for (const auto& t : st.remi.repeats ? music::remi_expand_repeats(text) : text) written.push_back(static_cast<std::uint16_t>(corpus.vocab.id(t)));
      f.tokens_per_bar = music::remi_tokens_per_bar(written);
      st.fill.push_back(std::move(f));
    }
    const auto start = static_cast<std::int64_t>(st.tokens.size());
    const auto [hb, he] = music::header_span(p.tokens, kinds);
    st.piece_start.push_back(start);
    st.header_begin.push_back(start + static_cast<std::int64_t>(hb));
    st.header_end.push_back(start + static_cast<std::int64_t>(he));
    st.tokens.insert(st.tokens.end(), p.tokens.begin(), p.tokens.end());
  }
  return st;
}

constexpr std::int64_t kIgnore = -100;  // a target the loss leaves out (cross_entropy's ignore_index)

/// A fill-in-the-middle row of T + 1 ids from the piece holding stream position `s`
/// (music::remi_fill_example): its context, then its middle; the loss is on the middle alone
/// (positions before `middle_from` are no targets), and what is left after it is padding
/// (no targets from `end` on).
struct FillRow {
  std::int64_t middle_from = 0, end = 0;
};
FillRow fill_row(const Stream& stream, const music::Vocab& vocab, std::int64_t s, std::uint64_t seed, std::int64_t T,
                 std::vector<std::int64_t>& row) {
  const auto& piece = stream.fill[stream.piece_at(s)];
  std::mt19937_64 rng(seed);
  auto fa = music::remi_fill_example(piece.score, piece.bar_keys, piece.tokens_per_bar, rng, static_cast<int>(T + 1), stream.remi);
  FillRow r;
  std::size_t t = 0;
  for (const auto* part : {&fa.context, &fa.middle}) {
    if (part == &fa.middle) r.middle_from = static_cast<std::int64_t>(t);
    for (const auto& tok : *part) {
      if (t < row.size()) row[t++] = vocab.id(tok);
    }
  }
  r.end = static_cast<std::int64_t>(t);
  for (; t < row.size(); ++t) row[t] = 0;  // padding: Bar, never a target
  return r;
}

/// The pitch view a new run's model reads (--pitch-view; model::ModelConfig::pitch_view).
std::string pitch_view_for(const std::string& asked, const music::TokenizerConfig& tokenizer) {
  const bool keys = tokenizer.name == "remi" && tokenizer.remi.keys;
  if (asked == "auto") return keys ? "key" : "absolute";
  if (music::pitch_view_is_key_relative(asked) && !keys) {
    throw ConfigError("--pitch-view key needs a Key token in every bar (--tokenizer remi or remi-merged)");
  }
  return asked;
}

/// The Key in force at stream position `s` (the latest before it in its piece), or -1.
std::int64_t key_before(const Stream& stream, std::int64_t s) {
  const auto first = stream.piece_start[stream.piece_at(s)];
  for (std::int64_t k = s - 1; k >= first; --k) {
    const auto id = stream.tokens[static_cast<std::size_t>(k)];
    if (music::remi_kind(static_cast<int>(id)) == music::RemiKind::kKey) return id;
  }
  return -1;
}

}  // namespace

PlainRow plain_row(const std::vector<std::int64_t>& header, std::int64_t after_header, const std::int64_t* body, std::int64_t T) {
  PlainRow r;
  r.ids.assign(header.begin(), header.end());
  r.cut = static_cast<std::int64_t>(header.size());
  r.ids.insert(r.ids.end(), body, body + (T + 1 - r.cut));
  r.targets.assign(r.ids.begin() + 1, r.ids.end());
  if (r.cut > 0) r.targets[static_cast<std::size_t>(r.cut - 1)] = after_header;
  return r;
}

namespace {

/// Inputs and targets (rows, T) of windows [b0, b1), transposed where `augment` and the
/// window stays in the piano's range, in the ids the model reads (`fresh_view`, a view at the
/// start of a row: music/pitch_view.h). A window cut from inside a piece with a header starts with
/// that header, then goes on from the cut, its pitches read in the key in force there. A fill
/// window is arranged by fill_row.
std::pair<torch::Tensor, torch::Tensor> batch_of(const EpochWindows& w, std::int64_t b0, std::int64_t b1, std::int64_t T,
                                                 const Stream& stream, const music::Vocab& vocab, const music::Transposer& transposer,
                                                 bool augment, const music::PitchView& fresh_view) {
  auto x = torch::empty({b1 - b0, T}, torch::kLong), y = torch::empty({b1 - b0, T}, torch::kLong);
  auto xa = x.accessor<std::int64_t, 2>(), ya = y.accessor<std::int64_t, 2>();
  std::vector<std::int64_t> row(static_cast<std::size_t>(T + 1));
  for (std::int64_t i = b0; i < b1; ++i) {
    const std::int64_t s = w.starts[static_cast<std::size_t>(i)];
    const bool fill = w.fill[static_cast<std::size_t>(i)] != 0 && !stream.fill.empty();
    FillRow fr{0, T + 1};
    std::int64_t cut = 0;  // where the row leaves the header for the cut
    std::int64_t seam_target = -1;  // a plain row's target after its header (plain_row), then in the model's view
    if (fill) {
      fr = fill_row(stream, vocab, s, w.fill[static_cast<std::size_t>(i)], T, row);
    } else {
      auto [hb, he] = stream.header_before(s);
      if (he - hb >= T / 2) hb = he;  // a header longer than half a window is left out
      const std::vector<std::int64_t> header(stream.tokens.begin() + hb, stream.tokens.begin() + he);
      if (hb < he) seam_target = stream.tokens[static_cast<std::size_t>(he)];  // what follows the header in its piece
      PlainRow pr = plain_row(header, seam_target, stream.tokens.data() + s, T);
      row = std::move(pr.ids);
      cut = pr.cut;
    }
    int shift = augment ? w.shifts[static_cast<std::size_t>(i)] : 0;
    if (shift != 0 && !transposer.fits(row.data(), static_cast<std::size_t>(fr.end), shift)) shift = 0;
    music::PitchView view = fresh_view;
    for (std::int64_t t = 0; t <= T; ++t) {
      if (t == cut && seam_target >= 0) {  // in the view of the header it follows (a copy: no state kept)
        music::PitchView v = view;
        seam_target = v.to_model(transposer.shift(seam_target, shift));
      }
      if (view.key_relative() && !fill && t == cut) {
        const auto key = key_before(stream, s);
        if (key >= 0) view.see(transposer.shift(key, shift));
      }
      row[static_cast<std::size_t>(t)] = view.to_model(transposer.shift(row[static_cast<std::size_t>(t)], shift));
    }
    for (std::int64_t t = 0; t < T; ++t) {
      xa[i - b0][t] = row[static_cast<std::size_t>(t)];
      const bool target = !fill || (t + 1 >= fr.middle_from && t + 1 < fr.end);
      const bool seam = t + 1 == cut && seam_target >= 0;
      ya[i - b0][t] = !target ? kIgnore : seam ? seam_target : row[static_cast<std::size_t>(t + 1)];
    }
  }
  return {x, y};
}

/// Validation NLL over the held-out pieces, each rank scoring every W-th of them and the sums
/// shared.
Scores validate(model::SequenceModel& m, const data::Corpus& corpus, Group& group, int W, int rank, torch::Device device) {
  m.eval();
  Scores vs;
  std::vector<const std::vector<std::uint16_t>*> valid_pieces;
  int valid_index = 0;
  for (const auto& p : corpus.pieces) {
    if (p.split == data::Split::kValid && valid_index++ % W == rank) valid_pieces.push_back(&p.tokens);
  }
  for (const Scores& s : score_sequences(m, valid_pieces, device)) {
    vs.nll_sum += s.nll_sum;
    vs.tokens += s.tokens;
    vs.correct += s.correct;
  }
  if (W > 1) {
    auto sums = group.all_reduce_sum({vs.nll_sum, static_cast<double>(vs.tokens), static_cast<double>(vs.correct)});
    vs = Scores{sums[0], static_cast<std::int64_t>(sums[1]), static_cast<std::int64_t>(sums[2]), {}, {}};
  }
  return vs;
}

/// What every rank of a step must agree on.
struct StepSignals {
  double loss = 0;
  bool interrupted = false;
  double elapsed = 0;  ///< rank 0's clock
};

/// Forward and backward of one step's batch (x, y: this rank's rows of `global_rows`). In a
/// group, each rank's loss is its share of the mean over the global batch, so that the summed
/// gradients are exactly the gradients of that mean; the loss, a stop request on any rank and
/// rank 0's clock are shared.
StepSignals forward_backward(model::SequenceModel& m, const torch::Tensor& x, const torch::Tensor& y, std::int64_t global_rows,
                             Group& group, GradReducer& reducer, bool lead, bool stop_requested,
                             const std::function<double()>& elapsed) {
  const auto V = m.config().vocab_size;
  if (group.size() == 1) {
    auto loss = torch::nn::functional::cross_entropy(m.forward(x, nullptr).reshape({-1, V}), y.reshape({-1}));
    loss.backward();
    return {loss.item<double>(), stop_requested, elapsed()};
  }
  // The mean is over the targets of the whole global batch (fill-in-the-middle rows leave some
  // out), as one process's cross_entropy takes it: every rank needs their number first.
  const double targets = x.size(0) > 0 ? (y != kIgnore).sum().item<double>() : 0.0;
  const double all_targets = std::max(1.0, group.all_reduce_sum({targets})[0]);
  (void)global_rows;
  reducer.begin_step();
  double local = 0;
  if (x.size(0) > 0) {
    auto loss = torch::nn::functional::cross_entropy(m.forward(x, nullptr).reshape({-1, V}), y.reshape({-1}),
                                                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                all_targets;
    loss.backward();
    local = loss.item<double>();
  }
  reducer.finish_step();
  auto ctl = group.all_reduce_sum({local, stop_requested ? 1.0 : 0.0, lead ? elapsed() : 0.0});
  return {ctl[0], ctl[1] > 0, ctl[2]};
}

/// One line of log.csv (data::log_header's columns); `epoch_done` may be fractional.
void append_log(const std::string& log_path, double epoch_done, const EpochReport& rep, bool have_valid) {
  std::ofstream log(log_path, std::ios::app);
  log << fmt::format("{:.4f},{},{:.5f},{},{},{},{:.6g},{:.1f},{:.1f}\n", epoch_done, rep.step, rep.train_loss,
                     have_valid ? fmt::format("{:.5f}", rep.valid_nll) : "", have_valid ? fmt::format("{:.4f}", rep.valid_ppl) : "",
                     have_valid ? fmt::format("{:.5f}", rep.valid_acc) : "", rep.lr, rep.tokens_per_s, rep.elapsed_s);
}

/// FNV-1a of the parameters' bytes: equal on every rank of a group.
std::uint64_t parameter_hash(model::SequenceModel& m) {
  std::uint64_t h = 14695981039346656037ull;
  for (const auto& p : m.parameters()) {
    auto c = p.detach().to(torch::kCPU).contiguous();
    h = fnv1a64(c.data_ptr(), c.nbytes(), h);
  }
  return h;
}

}  // namespace

PresetChoice auto_preset(const std::string& arch, double minutes, int cores, int vocab) {
  if (arch != "lstm" || minutes <= 0) return {"small", 0};
  const double target = std::sqrt(kLstmParamTokensPerCoreSecond * std::max(1, cores) * minutes * 60 / kTokensPerParameter);
  PresetChoice best{"small", target};
  double best_distance = 1e300;
  for (const char* name : {"tiny", "2x128", "2x192", "2x256", "small"}) {
    auto n = static_cast<double>(model::lstm_parameter_count(model::ModelConfig::preset_for("lstm", name, vocab)));
    double d = std::abs(std::log(n / target));
    if (d < best_distance) best_distance = d, best.preset = name;
  }
  return best;
}

int default_batch_size(const std::string& arch) { return arch == "transformer" ? 8 : 32; }

TrainResult train(const TrainOptions& given, const std::atomic<bool>& stop, const ProgressFn& progress,
                  const std::function<void(const EpochReport&)>& on_epoch) {
  TrainOptions opt = given;
  const std::string last_path = opt.run_dir + "/last.pt", best_path = opt.run_dir + "/best.pt";
  const std::string log_path = opt.run_dir + "/log.csv";
  model::CheckpointMeta resume_meta;
  if (opt.resume) {
    if (!fs::exists(last_path)) throw Error(fmt::format("{}: nothing to resume (no last.pt)", opt.run_dir));
    resume_meta = model::read_checkpoint_meta(last_path);
    opt = options_from_json(resume_meta.train, opt);
    if (!given.corpus.empty()) opt.corpus = given.corpus;
  } else {
    check_new_run_dir(opt.run_dir);
    fs::create_directories(opt.run_dir);
  }
  if (opt.epochs <= 0 && opt.time_limit_min <= 0) throw ConfigError("--epochs must be at least 1 (or give --time-limit and no --epochs)");
  // A time budget with no number of epochs: epochs go on until the budget is spent.
  const bool budget_only = opt.epochs <= 0;
  const int max_epochs = budget_only ? 1000000 : opt.epochs;
  if (opt.device != "cpu" && opt.device != "cuda") throw ConfigError(fmt::format("--device {}: use cpu or cuda", opt.device));
  if (opt.device == "cuda" && !torch::cuda::is_available()) throw ConfigError("--device cuda: this libtorch has no CUDA or no GPU is visible");
  torch::Device device(opt.device == "cuda" ? torch::kCUDA : torch::kCPU);
  const int threads = model::use_threads(opt.threads);
  model::keep_freed_memory();
  const int W = opt.dist.world_size, rank = opt.dist.rank;
  const bool lead = rank == 0;  // rank 0 alone logs and writes files
  if (opt.resume && resume_meta.step_in_epoch != 0 && resume_meta.train.value("world_size", 1) != W) {
    throw ConfigError(fmt::format("{}: was written mid-epoch by {} ranks; resume it with the same number (not {})", last_path,
                                  resume_meta.train.value("world_size", 1), W));
  }
  Group group(opt.dist, device);

  data::Corpus corpus = data::read_corpus(opt.corpus);
  const int V = corpus.vocab.size();
  if (opt.resume && resume_meta.vocab_hash != corpus.vocab.hash()) {
    throw FormatError(fmt::format("{}: vocabulary ({} tokens, hash {:016x}) does not match corpus {} ({} tokens, hash {:016x})",
                                  last_path, resume_meta.vocab.size(), resume_meta.vocab_hash, opt.corpus, V, corpus.vocab.hash()));
  }
  // A resumed run keeps the model it was made with (presets change between versions).
  TrainResult result;
  PresetChoice choice{opt.preset, 0};
  if (!opt.resume && opt.preset == "auto") choice = auto_preset(opt.arch, opt.time_limit_min, threads * W, V);
  model::ModelConfig mc = opt.resume ? resume_meta.model : model::ModelConfig::preset_for(opt.arch, choice.preset, V);
  mc.scalar_input = opt.scalar_input;
  if (!opt.resume && opt.dropout >= 0) mc.dropout = opt.dropout;
  if (!opt.resume) mc.pitch_view = pitch_view_for(opt.pitch_view, corpus.tokenizer);
  if (opt.window <= 0) opt.window = opt.arch == "lstm" ? 256 : mc.context;
  if (opt.arch == "transformer" && opt.window > mc.context) {
    throw ConfigError(fmt::format("--window {} exceeds the transformer's context of {}", opt.window, mc.context));
  }
  // Fill-in-the-middle windows (music/infill.h) for corpora whose vocabulary has the markers.
  const bool fill = opt.infill_share > 0 && corpus.tokenizer.name == "remi" && corpus.tokenizer.remi.infill;
  const Stream stream = training_stream(corpus, fill);
  const std::int64_t T = opt.window, B = opt.batch_size;
  if (static_cast<std::int64_t>(stream.size()) < T + 2) {
    throw Error(fmt::format("{}: {} training tokens, fewer than one window of {} (use --window or more music)", opt.corpus, stream.size(), T));
  }

  torch::manual_seed(opt.seed);
  auto m = model::make_model(mc);
  m->to(device);
  result.model_choice = fmt::format("{} {}, {:.2g} parameters", mc.arch, mc.preset, static_cast<double>(model::parameter_count(*m)));
  if (music::pitch_view_is_key_relative(mc.pitch_view)) result.model_choice += ", pitches read relative to each bar's key";
  if (choice.target_parameters > 0) {
    result.model_choice += fmt::format(" (--preset auto: {:g} min on {} cores calls for ~{:.2g})", opt.time_limit_min, threads * W, choice.target_parameters);
  }
  GradReducer reducer(group, m->parameters());
  auto optimizer = make_optimizer(opt, m->parameters());

  model::CheckpointMeta meta;
  meta.model = mc;
  meta.tokenizer = corpus.tokenizer.to_json();
  meta.vocab = corpus.vocab.tokens();
  meta.vocab_hash = corpus.vocab.hash();
  meta.train = opt.to_json();
  meta.corpus_fingerprint = fmt::format("{:016x}", corpus.fingerprint());
  if (opt.resume) {
    model::load_checkpoint_into(last_path, *m, optimizer.get());
    meta.epoch = resume_meta.epoch;
    meta.step = resume_meta.step;
    meta.step_in_epoch = resume_meta.step_in_epoch;
    meta.best_valid_nll = resume_meta.best_valid_nll;
    meta.bad_epochs = resume_meta.bad_epochs;
  }
  if (W > 1) {
    // Every rank starts from rank 0's weights, and draws its own dropout masks.
    std::vector<torch::Tensor> state = m->parameters();
    for (auto& b : m->buffers()) state.push_back(b);
    {
      torch::NoGradGuard ng;
      group.broadcast_from_0(state);
    }
    if (!lead) torch::manual_seed(opt.seed + 7919ull * static_cast<std::uint64_t>(rank) + static_cast<std::uint64_t>(meta.step));
  }
  nlohmann::json config{{"train", opt.to_json()}, {"model", mc.to_json()}, {"parameters", model::parameter_count(*m)},
                        {"tokenizer", corpus.tokenizer.to_json()}, {"vocab_size", V}, {"corpus", fs::absolute(opt.corpus).string()},
                        {"corpus_fingerprint", meta.corpus_fingerprint}, {"train_tokens", stream.size()},
                        {"world_size", W}, {"backend", W > 1 ? group.backend() : "none"},
                        {"gradient_bytes_per_step", W > 1 ? reducer.gradient_bytes() : 0}};
  if (lead) write_file_atomic(opt.run_dir + "/config.json", config.dump(2) + "\n");
  if (lead && (!opt.resume || !fs::exists(log_path))) {
    write_file_atomic(log_path, std::string(data::log_header()) + "\n");
  }

  // Transposition (music::Transposer): Pitch and Key tokens move together.
  const music::Transposer transposer(corpus.vocab.tokens(), corpus.tokenizer);
  const bool augment = opt.augment && transposer.supported();

  // One step takes B windows on each rank: B * W in all.
  const std::int64_t GB = B * W;
  const std::int64_t steps_per_epoch = ((static_cast<std::int64_t>(stream.size()) - 1 - (T - 1)) / T + GB - 1) / GB;
  // Warm-up: a share of the planned steps (of the steps the time limit allows, once measured),
  // between 10 and 200 (a run planned for 200 epochs and stopped by a time limit would
  // otherwise spend its whole budget warming up).
  const double planned_steps = static_cast<double>(steps_per_epoch) * max_epochs;
  Lr schedule{opt.lr, opt.time_limit_min > 0 ? 20.0 : std::clamp(opt.warmup_fraction * planned_steps, 10.0, 200.0), planned_steps};
  const std::int64_t first_step_of_session = meta.step;
  auto t_start = std::chrono::steady_clock::now();
  const std::function<double()> elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
  result.stopped_because = "epochs";
  double time_limit_s = opt.time_limit_min > 0 ? opt.time_limit_min * 60 : 1e300;
  double shared_elapsed = 0;  // rank 0's clock, the same on every rank after each step
  double best_at_s = 0;       // shared_elapsed at the best epoch of this session
  result.world_size = W;
  result.gradient_bytes = W > 1 ? reducer.gradient_bytes() : 0;

  for (std::int64_t epoch = meta.epoch; epoch < max_epochs; ++epoch) {
    const EpochWindows windows = epoch_windows(opt.seed, epoch, T, stream.size(), fill ? opt.infill_share : 0.0);
    const std::int64_t n_starts = static_cast<std::int64_t>(windows.starts.size());
    const std::int64_t n_steps = (n_starts + GB - 1) / GB;
    m->train();
    double loss_sum = 0;
    std::int64_t loss_n = 0, tokens_done = 0;
    auto epoch_t0 = std::chrono::steady_clock::now();
    bool cut = false;
    std::int64_t first_step = meta.step_in_epoch;
    for (std::int64_t k = first_step; k < n_steps; ++k) {
      // This step's windows are [k*GB, k*GB + GB); this rank takes its B of them.
      const std::int64_t global_rows = std::min(GB, n_starts - k * GB);
      std::int64_t b0 = std::min(k * GB + rank * B, n_starts), b1 = std::min<std::int64_t>(b0 + B, std::min(n_starts, k * GB + GB));
      auto [x, y] = batch_of(windows, b0, b1, T, stream, corpus.vocab, transposer, augment, music::PitchView::named(mc.pitch_view));
      x = x.to(device);
      y = y.to(device);
      if (opt.time_limit_min > 0 && meta.step - first_step_of_session >= 20) {
        // With a time limit, the cosine decay ends when the budget does: the steps it allows,
        // at the rate (validation included) measured so far.
        double rate = static_cast<double>(meta.step - first_step_of_session) / std::max(shared_elapsed, 1e-9);
        schedule.total = std::min(planned_steps, static_cast<double>(first_step_of_session) + rate * time_limit_s);
        schedule.warmup = std::clamp(opt.warmup_fraction * schedule.total, 20.0, 200.0);
      }
      set_lr(*optimizer, schedule.at(meta.step));
      optimizer->zero_grad();
      const StepSignals sig = forward_backward(*m, x, y, global_rows, group, reducer, lead, stop.load(), elapsed);
      shared_elapsed = sig.elapsed;
      const double step_loss = sig.loss;
      const bool interrupted = sig.interrupted, time_over = shared_elapsed > time_limit_s;
      if (opt.clip > 0) torch::nn::utils::clip_grad_norm_(m->parameters(), opt.clip);
      optimizer->step();
      ++meta.step;
      meta.step_in_epoch = k + 1;
      loss_sum += step_loss;
      ++loss_n;
      tokens_done += global_rows * T;
      double es = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_t0).count();
      if (progress) {
        progress({budget_only ? fmt::format("epoch {}", epoch + 1) : fmt::format("epoch {}/{}", epoch + 1, opt.epochs), k + 1, n_steps, "steps",
                  fmt::format("loss {:.3f} | {:.0f} tok/s", loss_sum / static_cast<double>(loss_n), static_cast<double>(tokens_done) / std::max(es, 1e-9)),
                  k + 1 == n_steps});
      }
      if (interrupted) {
        result.stopped_because = "interrupted";
        cut = true;
        break;
      }
      if (time_over) {
        result.stopped_because = "time limit";
        cut = true;
        break;
      }
    }
    if (cut && result.stopped_because == "interrupted") {
      if (lead) model::save_checkpoint(last_path, meta, *m, optimizer.get());
      break;
    }
    // Validation on the held-out pieces.
    EpochReport rep;
    rep.epoch = epoch + 1;
    rep.step = meta.step;
    rep.train_loss = loss_n ? loss_sum / static_cast<double>(loss_n) : NAN;
    rep.lr = schedule.at(meta.step);
    double es = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_t0).count();
    rep.tokens_per_s = static_cast<double>(tokens_done) / std::max(es, 1e-9);
    const Scores vs = validate(*m, corpus, group, W, rank, device);
    rep.valid_nll = vs.tokens ? vs.nll() : NAN;
    rep.valid_ppl = vs.tokens ? std::exp(rep.valid_nll) : NAN;
    rep.valid_acc = vs.tokens ? static_cast<double>(vs.correct) / static_cast<double>(vs.tokens) : NAN;
    rep.elapsed_s = elapsed();
    // A cut epoch counts as done only if the time limit ended it (its state is then final).
    if (!cut) {
      meta.epoch = epoch + 1;
      meta.step_in_epoch = 0;
    }
    double criterion = vs.tokens ? rep.valid_nll : rep.train_loss;
    if (criterion < meta.best_valid_nll) {
      meta.best_valid_nll = criterion;
      meta.bad_epochs = 0;
      rep.best = true;
      best_at_s = shared_elapsed;
    } else {
      ++meta.bad_epochs;
    }
    if (lead && rep.best) model::save_checkpoint(best_path, meta, *m, optimizer.get());
    if (lead) model::save_checkpoint(last_path, meta, *m, optimizer.get());
    if (lead) {
      const double done = static_cast<double>(epoch) + (cut ? static_cast<double>(meta.step_in_epoch) / static_cast<double>(n_steps) : 1.0);
      append_log(log_path, done, rep, vs.tokens > 0);
    }
    result.epochs.push_back(rep);
    if (on_epoch) on_epoch(rep);
    if (cut) break;
    // With a time budget an epoch may last seconds, and a few without improvement are noise
    // while the learning rate is high: stopping early also needs a tenth of the budget to have
    // passed since the best epoch. (shared_elapsed is rank 0's clock: every rank agrees.)
    const bool long_enough = opt.time_limit_min <= 0 || shared_elapsed - best_at_s >= 0.1 * time_limit_s;
    if (opt.patience > 0 && meta.bad_epochs >= opt.patience && long_enough) {
      result.stopped_because = "early stopping";
      break;
    }
  }
  result.epochs_done = meta.epoch;
  result.best_valid_nll = meta.best_valid_nll;
  result.stop_detail = stop_detail(result, opt, shared_elapsed);
  result.parameter_hash = parameter_hash(*m);
  return result;
}

}  // namespace arioso::train
