// Training and generation speed of arioso's models, with the tutorial's ways as peers in the
// same run: full-window training (tokens/s) against the tutorial's one-target-per-100-step
// window (targets/s), and incremental generation against re-running a 100-token window per
// note (the tutorial's argmax loop). For an LSTM, also training through torch::nn::LSTM.
// arioso's paths run with arioso's thread split (model::use_threads); the torch::nn::LSTM
// peers with theirs, the best measured for them (one libtorch thread, THREADS OpenBLAS
// threads). Also peak memory. Usage:
//   model_bench [arch] [preset] [vocab] [threads] [batch] [window] [steps]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <torch/torch.h>

#include "core/blas.h"
#include "model/model.h"

using namespace arioso;

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main(int argc, char** argv) {
  std::string arch = argc > 1 ? argv[1] : "lstm", preset = argc > 2 ? argv[2] : "seed";
  int V = argc > 3 ? std::atoi(argv[3]) : 358, threads = argc > 4 ? std::atoi(argv[4]) : 1;
  int B = argc > 5 ? std::atoi(argv[5]) : 32, T = argc > 6 ? std::atoi(argv[6]) : 128, steps = argc > 7 ? std::atoi(argv[7]) : 4;
  // MODEL_BENCH_DEFAULT_MALLOC=1: glibc's defaults, to measure what keep_freed_memory() buys.
  const char* plain_malloc = std::getenv("MODEL_BENCH_DEFAULT_MALLOC");
  if (!plain_malloc || std::string(plain_malloc) != "1") model::keep_freed_memory();
  auto ours = [&] {
    model::set_fused_lstm(true);
    model::use_threads(threads);
  };
  auto stock = [&] {  // torch::nn::LSTM, with its best thread split
    model::set_fused_lstm(false);
    set_blas_threads(threads);
    torch::set_num_threads(1);
  };
  ours();
  torch::manual_seed(0);
  auto cfg = model::ModelConfig::preset_for(arch, preset, V);
  auto m = model::make_model(cfg);
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-3));
  auto x = torch::randint(0, V, {B, T}, torch::kLong), y = torch::randint(0, V, {B, T}, torch::kLong);
  auto step = [&] {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(m->forward(x, nullptr).reshape({-1, V}), y.reshape({-1}));
    loss.backward();
    opt.step();
  };
  auto rate = [&] {
    step();  // warm-up
    double t0 = now();
    for (int i = 0; i < steps; ++i) step();
    return static_cast<double>(B) * T * steps / (now() - t0);
  };
  // The LSTM's training both through arioso's layer and through torch::nn::LSTM, alternated.
  double train_tps = 0, torch_tps = 0;
  for (int round = 0; round < (arch == "lstm" ? 2 : 1); ++round) {
    ours();
    train_tps = std::max(train_tps, rate());
    if (arch != "lstm") break;
    stock();
    torch_tps = std::max(torch_tps, rate());
    ours();
  }

  // Incremental generation, one piece: one step per token.
  m->eval();
  torch::NoGradGuard ng;
  const int kNotes = 500;
  model::State st;
  auto tok = torch::zeros({1, 1}, torch::kLong);
  double g0 = now();
  for (int i = 0; i < kNotes; ++i) {
    if (!m->slides() && st.position >= m->context()) st = model::State{};  // learned positions: the window is full, start over
    tok = m->forward(tok, &st).select(1, -1).argmax(-1).unsqueeze(0);
  }
  double inc = kNotes / (now() - g0);
  // The same in bfloat16 steps (LSTM), and how far its logits stray from float's.
  double inc_bf16 = 0, bf16_diff = 0;
  if (arch == "lstm") {
    model::State sf, sh;
    auto tf = torch::zeros({1, 1}, torch::kLong);
    for (int i = 0; i < 50; ++i) {
      m->set_step_precision(torch::kFloat);
      auto lf = m->forward(tf, &sf);
      m->set_step_precision(torch::kBFloat16);
      auto lh = m->forward(tf, &sh);
      bf16_diff = std::max(bf16_diff, (lf - lh).abs().max().item<double>());
      tf = lf.select(1, -1).argmax(-1).unsqueeze(0);
    }
    model::State s16;
    auto t16 = torch::zeros({1, 1}, torch::kLong);
    g0 = now();
    for (int i = 0; i < kNotes; ++i) t16 = m->forward(t16, &s16).select(1, -1).argmax(-1).unsqueeze(0);
    inc_bf16 = kNotes / (now() - g0);
    m->set_step_precision(torch::kFloat);
  }
  // Batched: 8 pieces at once.
  model::State sb;
  auto tb = torch::zeros({8, 1}, torch::kLong);
  g0 = now();
  for (int i = 0; i < 200; ++i) tb = m->forward(tb, &sb).select(1, -1).argmax(-1).unsqueeze(1);
  double batched = 8 * 200 / (now() - g0);
  // The tutorial's loop: re-run the whole 100-token window for every new note.
  // Through torch::nn::LSTM, as a framework's stock LSTM runs it (arioso's layer would make
  // the peer 2.5x faster than the tutorial's loop ever is).
  stock();
  auto win = torch::randint(0, V, {1, 100}, torch::kLong);
  const int kWindowed = 20;
  g0 = now();
  for (int i = 0; i < kWindowed; ++i) {
    auto next = m->forward(win, nullptr).select(1, -1).argmax(-1).unsqueeze(0);
    win = torch::cat({win.slice(1, 1), next}, 1);
  }
  double windowed = kWindowed / (now() - g0);
  ours();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%s %s V=%d threads=%d batch=%dx%d params=%lld: train %.0f tokens/s | generate %.0f tokens/s (batched x8: %.0f), "
              "windowed %.1f tokens/s, ratio %.0fx, 500 tokens in %.2f s | peak RSS %.0f MB\n",
              arch.c_str(), preset.c_str(), V, threads, B, T, static_cast<long long>(model::parameter_count(*m)), train_tps, inc,
              batched, windowed, inc / windowed, kNotes / inc, ru.ru_maxrss / 1024.0);
  if (torch_tps > 0) std::printf("  training through torch::nn::LSTM: %.0f tokens/s (arioso's layer %.2fx)\n", torch_tps, train_tps / torch_tps);
  if (inc_bf16 > 0) {
    std::printf("  bf16 steps: generate %.0f tokens/s, ratio %.0fx, 500 tokens in %.2f s; largest logit difference from float %.3g\n",
                inc_bf16, inc_bf16 / windowed, kNotes / inc_bf16, bf16_diff);
  }
  return 0;
}
