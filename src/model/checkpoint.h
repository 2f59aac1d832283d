// Self-describing checkpoints: one libtorch archive holds the model config, the tokenizer and
// its vocabulary, the training settings and progress (epoch, step, best validation, RNG state)
// and the model and optimizer state, so that `generate` needs nothing else. Written atomically.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/model.h"

namespace arioso::model {

struct CheckpointMeta {
  ModelConfig model;
  nlohmann::json tokenizer;          ///< TokenizerConfig::to_json()
  std::vector<std::string> vocab;
  std::uint64_t vocab_hash = 0;
  nlohmann::json train;              ///< every training hyper-parameter
  std::string corpus_fingerprint;
  std::int64_t epoch = 0;            ///< epochs completed
  std::int64_t step = 0;             ///< optimizer steps taken
  std::int64_t step_in_epoch = 0;    ///< steps of epoch `epoch` already taken (a stop mid-epoch)
  double best_valid_nll = 1e30;
  std::int64_t bad_epochs = 0;       ///< epochs since the best validation
  nlohmann::json to_json() const;
  static CheckpointMeta from_json(const nlohmann::json& j);
};

/// Saves through a temporary file and rename. `optimizer` may be null.
void save_checkpoint(const std::string& path, const CheckpointMeta& meta, SequenceModel& model,
                     torch::optim::Optimizer* optimizer);

/// Reads only the metadata; throws FormatError naming the file if it is not an arioso checkpoint.
CheckpointMeta read_checkpoint_meta(const std::string& path);

/// Loads a checkpoint: builds the model from its config and loads weights (and the optimizer
/// state and global RNG state when `optimizer` is given). Throws FormatError on a bad file.
std::shared_ptr<SequenceModel> load_checkpoint(const std::string& path, CheckpointMeta* meta,
                                               torch::optim::Optimizer* optimizer = nullptr);
/// Loads weights (and optimizer/RNG) into an existing model of the same config.
void load_checkpoint_into(const std::string& path, SequenceModel& model, torch::optim::Optimizer* optimizer);

}  // namespace arioso::model
