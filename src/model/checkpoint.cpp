// Checkpoint archives; see checkpoint.h. Layout: "arioso_meta" (JSON string with magic and
// version, and a hash of the weights), "model/..." parameters and buffers, "optimizer/..." state, "rng" generator state.
#include "model/checkpoint.h"

#include <cstdio>
#include <optional>
#include <unistd.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"

namespace arioso::model {

namespace {
constexpr const char* kMagic = "arioso-checkpoint";
constexpr int kVersion = 1;

// A hash of the model's parameters and buffers as stored, so that a damaged weight is caught
// at load (the archive itself checks no contents). Older checkpoints have none.
std::uint64_t weights_hash(SequenceModel& model) {
  std::uint64_t h = 14695981039346656037ull;
  auto add = [&](const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU).contiguous();
    h = fnv1a64(c.data_ptr(), c.numel() * c.element_size(), h);
  };
  for (const auto& p : model.named_parameters(true)) add(p.value());
  for (const auto& b : model.named_buffers(true)) add(b.value());
  return h;
}
}  // namespace

nlohmann::json CheckpointMeta::to_json() const {
  return {{"magic", kMagic}, {"version", kVersion}, {"model", model.to_json()}, {"tokenizer", tokenizer}, {"vocab", vocab},
          {"vocab_hash", vocab_hash}, {"train", train}, {"corpus_fingerprint", corpus_fingerprint}, {"epoch", epoch},
          {"step", step}, {"step_in_epoch", step_in_epoch}, {"best_valid_nll", best_valid_nll}, {"bad_epochs", bad_epochs}};
}

CheckpointMeta CheckpointMeta::from_json(const nlohmann::json& j) {
  CheckpointMeta m;
  m.model = ModelConfig::from_json(j.at("model"));
  m.tokenizer = j.at("tokenizer");
  m.vocab = j.at("vocab").get<std::vector<std::string>>();
  m.vocab_hash = j.at("vocab_hash");
  m.train = j.value("train", nlohmann::json::object());
  m.corpus_fingerprint = j.value("corpus_fingerprint", "");
  m.epoch = j.at("epoch");
  m.step = j.at("step");
  m.step_in_epoch = j.value("step_in_epoch", 0);
  m.best_valid_nll = j.value("best_valid_nll", 1e30);
  m.bad_epochs = j.value("bad_epochs", 0);
  return m;
}

void save_checkpoint(const std::string& path, const CheckpointMeta& meta, SequenceModel& model, torch::optim::Optimizer* opt) {
  torch::serialize::OutputArchive archive;
  nlohmann::json j = meta.to_json();
  j["weights_fnv1a64"] = weights_hash(model);
  archive.write("arioso_meta", c10::IValue(j.dump()));
  torch::serialize::OutputArchive m;
  model.save(m);
  archive.write("model", m);
  if (opt) {
    torch::serialize::OutputArchive o;
    opt->save(o);
    archive.write("optimizer", o);
  }
  auto gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng", gen.get_state());
  }
  std::string tmp = fmt::format("{}.tmp-{}", path, static_cast<long>(getpid()));
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("{}: cannot write checkpoint: {}", path, e.what_without_backtrace()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("{}: cannot write checkpoint", path));
  }
}

namespace {

struct Opened {
  torch::serialize::InputArchive archive;
  std::optional<std::uint64_t> weights;  // the weights' hash, where the checkpoint has one
};

// Reading a damaged archive throws c10::Error or TorchScript's own errors: each becomes ours.
template <class F>
void reading(const std::string& path, const char* what, F f) {
  try {
    f();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw FormatError(fmt::format("{}: {}: {}", path, what, e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw FormatError(fmt::format("{}: {}: {}", path, what, e.what()));
  }
}

Opened open_archive(const std::string& path, CheckpointMeta* meta) {
  Opened o;
  try {
    o.archive.load_from(path);
  } catch (const std::exception&) {
    throw FormatError(fmt::format("{}: not an arioso checkpoint (it is not a libtorch archive)", path));
  }
  c10::IValue v;
  bool found = false;
  reading(path, "checkpoint is damaged", [&] { found = o.archive.try_read("arioso_meta", v); });
  if (!found || !v.isString()) {
    throw FormatError(fmt::format("{}: not an arioso checkpoint (no arioso metadata)", path));
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(v.toStringRef());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: checkpoint metadata is corrupt: {}", path, e.what()));
  }
  if (!j.is_object() || j.value("magic", "") != kMagic) throw FormatError(fmt::format("{}: not an arioso checkpoint", path));
  if (j.value("version", 0) != kVersion) {
    throw FormatError(fmt::format("{}: checkpoint version {}, expected {} (train again)", path, j.value("version", 0), kVersion));
  }
  try {
    *meta = CheckpointMeta::from_json(j);
    if (j.contains("weights_fnv1a64")) o.weights = j.at("weights_fnv1a64").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: checkpoint metadata is incomplete: {}", path, e.what()));
  }
  return o;
}

void load_state(Opened& opened, const std::string& path, SequenceModel& model, torch::optim::Optimizer* opt) {
  auto& archive = opened.archive;
  reading(path, "checkpoint is damaged or does not match its model", [&] {
    torch::serialize::InputArchive m;
    archive.read("model", m);
    model.load(m);
  });
  if (opened.weights && weights_hash(model) != *opened.weights) {
    throw FormatError(fmt::format("{}: checkpoint is damaged: its weights do not match their checksum", path));
  }
  if (!opt) return;
  reading(path, "checkpoint is damaged (optimizer state)", [&] {
    torch::serialize::InputArchive o;
    if (archive.try_read("optimizer", o)) opt->load(o);
    torch::Tensor rng;
    if (archive.try_read("rng", rng)) {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    }
  });
}

}  // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  CheckpointMeta meta;
  open_archive(path, &meta);
  return meta;
}


std::shared_ptr<SequenceModel> load_checkpoint(const std::string& path, CheckpointMeta* meta, torch::optim::Optimizer* opt) {
  CheckpointMeta local;
  CheckpointMeta& m = meta ? *meta : local;
  auto archive = open_archive(path, &m);
  std::shared_ptr<SequenceModel> model;
  reading(path, "checkpoint is damaged (its model cannot be built)", [&] { model = make_model(m.model); });
  load_state(archive, path, *model, opt);
  return model;
}

void load_checkpoint_into(const std::string& path, SequenceModel& model, torch::optim::Optimizer* opt) {
  CheckpointMeta m;
  auto archive = open_archive(path, &m);
  load_state(archive, path, model, opt);
}

}  // namespace arioso::model
