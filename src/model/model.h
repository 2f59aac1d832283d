// The sequence models (libtorch): an LSTM and a decoder-only Transformer that predict the
// next token at every position, with carried state (LSTM h/c, Transformer key/value cache) so
// that generation costs one step per token. Model code knows tokens, never MIDI.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace arioso::model {

struct ModelConfig {
  std::string arch = "lstm";   ///< "lstm" or "transformer"
  std::string preset = "small";
  int vocab_size = 0;
  double dropout = 0.2;
  // LSTM
  bool scalar_input = false;   ///< the tutorial's input: token id / vocab size, one feature
  int embed = 128;
  int hidden = 384;
  int layers = 2;
  int dense = 256;
  // Transformer
  int d_model = 256;
  int heads = 4;
  int blocks = 4;
  int context = 1024;
  /// "rotary" (positions turn each head's queries and keys, so attention sees distances, and
  /// generation can slide past the context) or "learned" (an absolute position table: runs
  /// made before rotary positions; their config.json has no "positions").
  std::string positions = "rotary";
  /// How the model reads REMI's Pitch tokens: "absolute" (as written; runs from before the
  /// option) or "key" (relative to the bar's key, music/pitch_view.h). Model code knows no
  /// tokens: train, evaluate and generate map the ids on the way in and out.
  std::string pitch_view = "absolute";
  nlohmann::json to_json() const;
  static ModelConfig from_json(const nlohmann::json& j);
  /// Preset by name for an architecture: lstm: small (2x384), seed (3x512, dense 256, the
  /// tutorial's), tiny (1x64), 2xH (two layers of H); transformer: small (CPU), gpu, tiny.
  /// Throws ConfigError for an unknown one. ("auto" is resolved by train::auto_preset.)
  static ModelConfig preset_for(const std::string& arch, const std::string& preset, int vocab_size);
};

/// H of an LSTM preset "2xH" (two layers of H units; H in 32..1024), else 0.
int lstm_ladder_hidden(const std::string& preset);

/// Carried state between calls: LSTM {h, c}; Transformer {k, v per block}, buffers of the
/// context's length of which the first `cached` steps are filled. `position`: steps seen.
struct State {
  std::vector<torch::Tensor> tensors;
  std::int64_t position = 0;
  std::int64_t cached = 0;
};

class SequenceModel : public torch::nn::Module {
 public:
  /// x (B, T) int64 token ids -> (B, T, V) logits. With `state`, continues from it and updates it.
  virtual torch::Tensor forward(const torch::Tensor& x, State* state) = 0;
  /// Longest input the model can see at once (0 = unbounded, an LSTM).
  virtual std::int64_t context() const = 0;
  /// Whether a state may go on past the context: a Transformer with rotary positions drops
  /// its oldest cached steps (attention depends on distances only). Otherwise a caller must
  /// start a fresh state from the last tokens when position reaches context().
  virtual bool slides() const { return context() == 0; }
  /// Precision of the weights in one-token steps (generation): torch::kFloat (exact, the
  /// default) or torch::kBFloat16 (LSTM only: half the bytes to read per token, which is what
  /// bounds a step at batch 1; logits within ~1e-2 of float). Training is always float.
  virtual void set_step_precision(torch::ScalarType type) { step_type_ = type; }
  torch::ScalarType step_precision() const { return step_type_; }
  const ModelConfig& config() const { return config_; }

 protected:
  ModelConfig config_;
  torch::ScalarType step_type_ = torch::kFloat;
};

/// Builds a freshly initialized model (seeded by torch::manual_seed beforehand).
std::shared_ptr<SequenceModel> make_model(const ModelConfig& config);
/// Whether LSTM windows on the CPU run through the hand-written layer (model/lstm_layer.h; the
/// default) or through torch::nn::LSTM (for comparisons: the same parameters and results).
void set_fused_lstm(bool on);
bool fused_lstm_enabled();
/// Splits `threads` cores (0 = all) the way measured fastest here (bench/RESULTS.md) and
/// returns the number used. With oneDNN (the LSTM layer's and the Transformer's linear
/// products): libtorch's OpenMP threads (which oneDNN and libtorch's element-wise kernels use),
/// OpenBLAS one thread (the Transformer's attention products). Without: one libtorch thread,
/// `threads` OpenBLAS threads. Never both pools at once: OpenMP workers spin for a while after
/// each parallel region, and OpenBLAS threads started meanwhile find the cores taken (2 + 2
/// threads ran the seed LSTM at 914 tokens/s against 2,008 with 1 + 2).
int use_threads(int threads);
/// Keeps freed heap memory in the process instead of returning large blocks to the kernel:
/// training frees and reallocates tensors of tens of MB every step, and each fresh block is
/// paid again in page faults (the seed LSTM's layer trained 1.7x faster with this here).
void keep_freed_memory();
/// Trainable parameters an LSTM of this config has (the same as parameter_count of the model,
/// without building it); 0 for another architecture.
std::int64_t lstm_parameter_count(const ModelConfig& config);
/// Number of trainable parameters.
std::int64_t parameter_count(const SequenceModel& model);

}  // namespace arioso::model
