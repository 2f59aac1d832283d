// LSTM and Transformer language models; see model.h.
#include "model/model.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <tuple>
#include <thread>

#include <fmt/format.h>

#include "core/blas.h"
#include "core/error.h"
#include "model/gemm.h"
#include "model/lstm_layer.h"

namespace arioso::model {

nlohmann::json ModelConfig::to_json() const {
  return {{"arch", arch}, {"preset", preset}, {"vocab_size", vocab_size}, {"dropout", dropout},
          {"scalar_input", scalar_input}, {"embed", embed}, {"hidden", hidden}, {"layers", layers},
          {"dense", dense}, {"d_model", d_model}, {"heads", heads}, {"blocks", blocks}, {"context", context},
          {"positions", positions}, {"pitch_view", pitch_view}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  try {
    c.arch = j.at("arch");
    c.preset = j.value("preset", "");
    c.vocab_size = j.at("vocab_size");
    c.dropout = j.at("dropout");
    c.scalar_input = j.value("scalar_input", false);
    c.embed = j.at("embed");
    c.hidden = j.at("hidden");
    c.layers = j.at("layers");
    c.dense = j.at("dense");
    c.d_model = j.at("d_model");
    c.heads = j.at("heads");
    c.blocks = j.at("blocks");
    c.context = j.at("context");
    c.positions = j.value("positions", "learned");  // runs from before rotary positions
    c.pitch_view = j.value("pitch_view", "absolute");  // runs from before the key-relative view
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("model config: {}", e.what()));
  }
  if (c.positions != "rotary" && c.positions != "learned") throw FormatError(fmt::format("model config: unknown positions '{}'", c.positions));
  if (c.pitch_view != "absolute" && c.pitch_view != "key") throw FormatError(fmt::format("model config: unknown pitch view '{}'", c.pitch_view));
  return c;
}

int lstm_ladder_hidden(const std::string& preset) {
  if (preset.size() < 3 || preset.compare(0, 2, "2x") != 0) return 0;
  int h = 0;
  for (std::size_t i = 2; i < preset.size(); ++i) {
    if (preset[i] < '0' || preset[i] > '9' || h > 100000) return 0;
    h = h * 10 + (preset[i] - '0');
  }
  return h >= 32 && h <= 1024 ? h : 0;
}

ModelConfig ModelConfig::preset_for(const std::string& arch, const std::string& preset, int vocab) {
  ModelConfig c;
  c.arch = arch;
  c.preset = preset;
  c.vocab_size = vocab;
  if (arch == "lstm") {
    if (preset == "small") {
      c.embed = 128, c.hidden = 384, c.layers = 2, c.dense = 256, c.dropout = 0.2;
    } else if (preset == "tiny") {
      c.embed = 32, c.hidden = 64, c.layers = 1, c.dense = 64, c.dropout = 0.0;
    } else if (preset == "seed") {
      c.embed = 128, c.hidden = 512, c.layers = 3, c.dense = 256, c.dropout = 0.3;
    } else if (int h = lstm_ladder_hidden(preset); h > 0) {
      // "2xH": two layers of H, embedding H/2 and dense 2H/3 (within 32..128 and 64..256).
      c.hidden = h, c.layers = 2, c.embed = std::clamp(h / 2, 32, 128), c.dense = std::clamp(2 * h / 3, 64, 256), c.dropout = 0.2;
    } else {
      throw ConfigError(fmt::format("unknown lstm preset '{}' (use small, seed, tiny or 2xH, H = 32..1024)", preset));
    }
  } else if (arch == "transformer") {
    if (preset == "small") {
      c.d_model = 256, c.heads = 4, c.blocks = 4, c.context = 1024, c.dropout = 0.1;
    } else if (preset == "tiny") {
      c.d_model = 32, c.heads = 2, c.blocks = 1, c.context = 64, c.dropout = 0.0;
    } else if (preset == "gpu") {
      c.d_model = 512, c.heads = 8, c.blocks = 8, c.context = 1024, c.dropout = 0.1;
    } else {
      throw ConfigError(fmt::format("unknown transformer preset '{}' (use small, gpu or tiny)", preset));
    }
  } else {
    throw ConfigError(fmt::format("unknown model '{}' (use lstm or transformer)", arch));
  }
  return c;
}

namespace {

class LstmLM : public SequenceModel {
 public:
  explicit LstmLM(const ModelConfig& c) {
    config_ = c;
    int in = c.embed;
    if (c.scalar_input) {
      in = 1;
    } else {
      embedding_ = register_module("embedding", torch::nn::Embedding(c.vocab_size, c.embed));
    }
    lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(in, c.hidden).num_layers(c.layers).dropout(c.layers > 1 ? c.dropout : 0.0).batch_first(true)));
    dense_ = register_module("dense", torch::nn::Linear(c.hidden, c.dense));
    out_ = register_module("out", torch::nn::Linear(c.dense, c.vocab_size));
    dropout_ = register_module("dropout", torch::nn::Dropout(c.dropout));
  }

  torch::Tensor forward(const torch::Tensor& x, State* state) override {
    torch::Tensor h;  // (B, T, C)
    if (config_.scalar_input) {
      h = (x.to(torch::kFloat) / static_cast<double>(config_.vocab_size)).unsqueeze(-1);
    } else {
      h = embedding_->forward(x);
    }
    if (state && x.size(1) == 1 && !is_training() && !torch::GradMode::is_enabled()) {
      return head(step(h.select(1, 0), *state).unsqueeze(1));
    }
    if (fused_lstm_enabled() && lstm_layer_supports(h)) return head(run_layers(h, state));
    std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> r;
    if (state && !state->tensors.empty()) {
      r = lstm_->forward(h, std::make_tuple(state->tensors[0], state->tensors[1]));
    } else {
      r = lstm_->forward(h);
    }
    if (state) {
      state->tensors = {std::get<0>(std::get<1>(r)), std::get<1>(std::get<1>(r))};
      state->position += x.size(1);
    }
    return head(std::get<0>(r));
  }

  /// (B, T, C) inputs -> (B, T, H) outputs of the last layer through lstm_layer (the same
  /// parameters and arithmetic as lstm_->forward, faster on the CPU), updating `state` if given.
  torch::Tensor run_layers(const torch::Tensor& in, State* state) {
    const auto L = config_.layers;
    const auto B = in.size(0);
    auto x = in.transpose(0, 1).contiguous();  // (T, B, C): one step's rows are contiguous
    bool have_state = state && !state->tensors.empty();
    auto zeros = have_state ? torch::Tensor() : torch::zeros({B, config_.hidden}, in.options());
    std::vector<torch::Tensor> hn, cn;
    for (int l = 0; l < L; ++l) {
      const auto& w = layer_params(l);
      auto h0 = have_state ? state->tensors[0][l] : zeros;
      auto c0 = have_state ? state->tensors[1][l] : zeros;
      auto o = lstm_layer(x, h0, c0, w[0], w[1], w[2], w[3]);
      x = o.y;
      if (l + 1 < L && config_.dropout > 0) x = torch::dropout(x, config_.dropout, is_training());
      hn.push_back(o.hn);
      cn.push_back(o.cn);
    }
    if (state) {
      state->tensors = {torch::stack(hn), torch::stack(cn)};
      state->position += in.size(1);
    }
    return x.transpose(0, 1);
  }

  /// (B, T, H) LSTM outputs -> (B, T, V) logits.
  torch::Tensor head(const torch::Tensor& lstm_out) {
    auto h = dropout_->forward(lstm_out);
    h = dropout_->forward(torch::relu(dense_->forward(h)));
    return out_->forward(h);
  }

  /// One time step for generation, (B, C) input -> (B, H) output, updating `state`: the same
  /// arithmetic as torch::nn::LSTM (gates i, f, g, o), without its per-call set-up, which
  /// costs more than the products themselves at batch 1.
  torch::Tensor step(torch::Tensor x, State& state) {
    const auto L = config_.layers;
    const auto B = x.size(0);
    if (state.tensors.empty()) {
      state.tensors = {torch::zeros({L, B, config_.hidden}, x.options()), torch::zeros({L, B, config_.hidden}, x.options())};
    }
    if (step_type_ != torch::kFloat && low_weights_.empty()) {
      // [W_ih^T; W_hh^T] in the low precision, one product per layer; biases stay float.
      torch::NoGradGuard ng;
      for (int l = 0; l < L; ++l) {
        const auto& w = layer_params(l);
        low_weights_.push_back({torch::cat({w[0].t(), w[1].t()}, 0).to(step_type_).contiguous(), w[2] + w[3]});
      }
    }
    std::vector<torch::Tensor> hs, cs;
    for (int l = 0; l < L; ++l) {
      const auto& w = layer_params(l);
      auto h0 = state.tensors[0][l], c0 = state.tensors[1][l];
      if (step_type_ == torch::kFloat && fused_lstm_enabled() && lstm_layer_supports(x)) {
        auto hc = lstm_cell_step(x, h0, c0, w[0], w[1], w[2], w[3]);
        hs.push_back(hc.first);
        cs.push_back(hc.second);
        x = hc.first;
        continue;
      }
      std::vector<torch::Tensor> gates;
      if (step_type_ != torch::kFloat) {
        const auto& lw = low_weights_[static_cast<std::size_t>(l)];
        gates = torch::cat({x, h0}, 1).to(step_type_).matmul(lw[0]).to(torch::kFloat).add_(lw[1]).chunk(4, 1);
      } else {
        gates = torch::addmm(w[2], x, w[0].t()).addmm_(h0, w[1].t()).add_(w[3]).chunk(4, 1);  // (B, 4H)
      }
      auto c = torch::sigmoid(gates[1]) * c0 + torch::sigmoid(gates[0]) * torch::tanh(gates[2]);
      auto h = torch::sigmoid(gates[3]) * torch::tanh(c);
      hs.push_back(h);
      cs.push_back(c);
      x = h;
    }
    state.tensors = {torch::stack(hs), torch::stack(cs)};
    state.position += 1;
    return x;
  }

  std::int64_t context() const override { return 0; }

 private:
  torch::nn::Embedding embedding_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear dense_{nullptr}, out_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  // Per layer: W_ih, W_hh, b_ih, b_hh of lstm_ (the parameters themselves, so they follow
  // in-place updates, loads and moves), looked up by name once.
  std::vector<std::vector<torch::Tensor>> layer_params_;
  const std::vector<torch::Tensor>& layer_params(int layer) {
    if (layer_params_.empty()) {
      auto p = lstm_->named_parameters();
      for (int l = 0; l < config_.layers; ++l) {
        auto k = std::to_string(l);
        layer_params_.push_back({p["weight_ih_l" + k], p["weight_hh_l" + k], p["bias_ih_l" + k], p["bias_hh_l" + k]});
      }
    }
    return layer_params_[static_cast<std::size_t>(layer)];
  }
  // Per layer, for low-precision steps: [W_ih^T; W_hh^T] converted once, and b_ih + b_hh.
  std::vector<std::vector<torch::Tensor>> low_weights_;

 public:
  void set_step_precision(torch::ScalarType type) override {
    step_type_ = type;
    low_weights_.clear();
  }
};

/// Rotary positions (RoFormer, in GPT-NeoX's "rotate half" layout): each pair (i, i + hd/2)
/// of a query or key turns by its position times 10000^(-2i/hd). For x (..., T, hd) and tables
/// cos = [c, c], sin = [-s, s] (T, hd) of its positions: x * cos + [x2, x1] * sin.
torch::Tensor rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto half = x.size(-1) / 2;
  auto swapped = torch::cat({x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return torch::addcmul(x * cos, swapped, sin);
}

/// The tables of `rotate` for positions [0, n), computed in double (positions grow without
/// bound when generation slides).
std::pair<torch::Tensor, torch::Tensor> rotary_tables(std::int64_t n, std::int64_t hd) {
  auto pos = torch::arange(0, n, torch::kDouble).unsqueeze(1);
  auto inv = torch::pow(10000.0, -torch::arange(0, hd / 2, torch::kDouble) * 2.0 / static_cast<double>(hd)).unsqueeze(0);
  auto angle = pos * inv;
  auto c = torch::cos(angle), s = torch::sin(angle);
  return {torch::cat({c, c}, 1).to(torch::kFloat), torch::cat({-s, s}, 1).to(torch::kFloat)};
}

/// Causal attention of queries q (B, H, T, hd), already scaled, at the last T of the S = past +
/// T steps of k and v (B, H, S, hd). Queries go in chunks of 128, each against the keys up to
/// its last step only, so the masked half of the scores is never computed nor kept for the
/// backward pass (half the work and memory of a full T x S product at T = S).
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const auto T = q.size(2), past = k.size(2) - T;
  if (T == 1) return torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)), -1), v);
  constexpr std::int64_t kChunk = 128;
  // Key after query within a chunk; a shorter last chunk takes its top-left corner.
  const auto first = std::min(kChunk, T);
  const auto later = torch::ones({first, first}, q.options().dtype(torch::kBool)).triu(1);
  std::vector<torch::Tensor> out;
  for (std::int64_t a = 0; a < T; a += kChunk) {
    const auto n = std::min(kChunk, T - a), end = past + a + n;
    auto scores = torch::matmul(q.narrow(2, a, n), k.narrow(2, 0, end).transpose(-2, -1));  // (B, H, n, end)
    scores.narrow(-1, end - n, n).masked_fill_(later.narrow(0, 0, n).narrow(1, 0, n), -std::numeric_limits<float>::infinity());
    out.push_back(torch::matmul(torch::softmax(scores, -1), v.narrow(2, 0, end)));
  }
  return out.size() == 1 ? out[0] : torch::cat(out, 2);
}

/// One pre-LayerNorm block: causal self-attention and a GELU MLP, both residual.
class Block : public torch::nn::Module {
 public:
  Block(int d, int heads, double dropout) : heads_(heads) {
    ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    qkv_ = register_module("qkv", torch::nn::Linear(d, 3 * d));
    proj_ = register_module("proj", torch::nn::Linear(d, d));
    ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    fc_ = register_module("fc", torch::nn::Linear(d, 4 * d));
    fc2_ = register_module("fc2", torch::nn::Linear(4 * d, d));
    drop_ = register_module("drop", torch::nn::Dropout(dropout));
  }
  /// x (B, T, C); `cos`/`sin` the rotary tables of its steps (undefined: no rotation). With a
  /// cache, k/v (B, H, capacity, C/H) whose first `cached` steps hold the past, its keys and
  /// values are written after them.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, torch::Tensor* k_cache,
                        torch::Tensor* v_cache, std::int64_t cached) {
    auto B = x.size(0), T = x.size(1), C = x.size(2);
    auto hd = C / heads_;
    auto qkv = dense(ln1_->forward(x), qkv_->weight, qkv_->bias).view({B, T, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
    auto qk = cos.defined() ? rotate(qkv.narrow(0, 0, 2), cos, sin) : qkv.narrow(0, 0, 2);  // queries and keys at once
    auto q = qk[0] * (1.0 / std::sqrt(static_cast<double>(hd))), k = qk[1], v = qkv[2];  // (B, H, T, hd)
    if (k_cache) {
      k_cache->narrow(2, cached, T).copy_(k);
      v_cache->narrow(2, cached, T).copy_(v);
      k = k_cache->narrow(2, 0, cached + T);
      v = v_cache->narrow(2, 0, cached + T);
    }
    auto y = causal_attention(q, k, v).transpose(1, 2).contiguous().view({B, T, C});
    auto h = x + drop_->forward(dense(y, proj_->weight, proj_->bias));
    auto mlp = dense(torch::gelu(dense(ln2_->forward(h), fc_->weight, fc_->bias)), fc2_->weight, fc2_->bias);
    return h + drop_->forward(mlp);
  }

 private:
  int heads_;
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc_{nullptr}, fc2_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};

class TransformerLM : public SequenceModel {
 public:
  explicit TransformerLM(const ModelConfig& c) {
    config_ = c;
    TORCH_CHECK(c.d_model % c.heads == 0, "d_model ", c.d_model, " must be a multiple of heads ", c.heads);
    TORCH_CHECK(c.positions == "learned" || (c.d_model / c.heads) % 2 == 0, "rotary positions need an even head size");
    tok_ = register_module("tok", torch::nn::Embedding(c.vocab_size, c.d_model));
    if (c.positions == "learned") pos_ = register_module("pos", torch::nn::Embedding(c.context, c.d_model));
    for (int i = 0; i < c.blocks; ++i) blocks_.push_back(register_module("block" + std::to_string(i), std::make_shared<Block>(c.d_model, c.heads, c.dropout)));
    ln_ = register_module("ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
    drop_ = register_module("drop", torch::nn::Dropout(c.dropout));
    torch::NoGradGuard g;
    tok_->weight.normal_(0, 0.02);
    if (pos_) pos_->weight.normal_(0, 0.02);
  }

  torch::Tensor forward(const torch::Tensor& x, State* state) override {
    const auto B = x.size(0), T = x.size(1), ctx = static_cast<std::int64_t>(config_.context);
    TORCH_CHECK(T <= ctx, "an input of ", T, " tokens exceeds the context of ", ctx);
    if (state) make_room(*state, B, T, x.device());
    const std::int64_t past = state ? state->position : 0;
    auto h = tok_->forward(x);  // (B, T, C)
    torch::Tensor cos, sin;
    if (pos_) {
      TORCH_CHECK(past + T <= ctx, "sequence of ", past + T, " tokens exceeds the context of ", ctx);
      h = h + pos_->forward(torch::arange(past, past + T, x.options().dtype(torch::kLong))).unsqueeze(0);
    } else {
      std::tie(cos, sin) = rotary(past, T, x.device());
    }
    h = drop_->forward(h);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      if (state) h = blocks_[i]->forward(h, cos, sin, &state->tensors[2 * i], &state->tensors[2 * i + 1], state->cached);
      else h = blocks_[i]->forward(h, cos, sin, nullptr, nullptr, 0);
    }
    if (state) {
      state->position += T;
      state->cached += T;
    }
    return dense(ln_->forward(h), tok_->weight, torch::Tensor());  // weight-tied output: (B, T, V)
  }
  std::int64_t context() const override { return config_.context; }
  bool slides() const override { return !pos_; }

 private:
  /// Allocates the caches on first use; where T more steps would overflow them (rotary
  /// positions only), keeps the newest half-context of what they hold, moved to the front.
  void make_room(State& st, std::int64_t B, std::int64_t T, torch::Device device) {
    const std::int64_t ctx = config_.context, hd = config_.d_model / config_.heads;
    if (st.tensors.empty()) {
      st.cached = 0;
      for (std::size_t i = 0; i < 2 * blocks_.size(); ++i) {
        st.tensors.push_back(torch::zeros({B, config_.heads, ctx, hd}, torch::TensorOptions().device(device)));
      }
    }
    if (st.cached + T <= ctx || pos_) return;
    const std::int64_t keep = std::min({st.cached, ctx / 2, ctx - T});
    for (auto& t : st.tensors) t.narrow(2, 0, keep).copy_(t.narrow(2, st.cached - keep, keep).clone());
    st.cached = keep;
  }

  /// Rows [first, first + T) of the rotary tables, which are made once for the context and
  /// grown (doubled) when sliding generation goes past them.
  std::pair<torch::Tensor, torch::Tensor> rotary(std::int64_t first, std::int64_t T, torch::Device device) {
    std::lock_guard<std::mutex> lock(tables_mutex_);
    if (!cos_.defined() || first + T > cos_.size(0) || cos_.device() != device) {
      std::int64_t n = std::max<std::int64_t>(config_.context, cos_.defined() ? 2 * cos_.size(0) : 0);
      while (n < first + T) n *= 2;
      std::tie(cos_, sin_) = rotary_tables(n, config_.d_model / config_.heads);
      cos_ = cos_.to(device), sin_ = sin_.to(device);
    }
    return {cos_.narrow(0, first, T), sin_.narrow(0, first, T)};
  }

  torch::nn::Embedding tok_{nullptr}, pos_{nullptr};
  torch::Tensor cos_, sin_;
  std::mutex tables_mutex_;
  std::vector<std::shared_ptr<Block>> blocks_;
  torch::nn::LayerNorm ln_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};

}  // namespace

static std::atomic<bool> g_fused_lstm{true};

void set_fused_lstm(bool on) { g_fused_lstm = on; }
bool fused_lstm_enabled() { return g_fused_lstm; }

int use_threads(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (lstm_layer_uses_onednn()) {
    set_blas_threads(1);
    torch::set_num_threads(n);
  } else if (set_blas_threads(n)) {
    torch::set_num_threads(1);
  } else {
    torch::set_num_threads(n);  // another BLAS: let libtorch split the work
  }
  return n;
}

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);                      // no block of its own for a large allocation...
  mallopt(M_TRIM_THRESHOLD, 1 << 30);          // ...and freed memory stays unless 1 GB lies free at the top
}

std::shared_ptr<SequenceModel> make_model(const ModelConfig& c) {
  if (c.vocab_size <= 0) throw ConfigError("model needs a vocabulary");
  if (c.arch == "lstm") return std::make_shared<LstmLM>(c);
  if (c.arch == "transformer") return std::make_shared<TransformerLM>(c);
  throw ConfigError(fmt::format("unknown model '{}' (use lstm or transformer)", c.arch));
}

std::int64_t lstm_parameter_count(const ModelConfig& c) {
  if (c.arch != "lstm") return 0;
  const std::int64_t V = c.vocab_size, H = c.hidden, D = c.dense;
  std::int64_t in = c.scalar_input ? 1 : c.embed, n = c.scalar_input ? 0 : V * c.embed;
  for (int l = 0; l < c.layers; ++l, in = H) n += 4 * H * (in + H) + 8 * H;  // W_ih, W_hh, b_ih, b_hh
  return n + H * D + D + D * V + V;                                        // dense, out
}

std::int64_t parameter_count(const SequenceModel& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace arioso::model
