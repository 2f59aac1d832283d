// What a run folder holds, in one place: its files' names (config.json, best.pt, last.pt,
// log.csv, loss.png, copy_index.bin/.json, corpus.arioso), the training log parsed once, and
// JSON files read with errors that name them. `train` writes the folder; `generate`,
// `evaluate`, `serve` and the pictures read it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arioso::data {

struct RunFolder {
  std::string dir;
  std::string config() const { return dir + "/config.json"; }
  std::string best() const { return dir + "/best.pt"; }
  std::string last() const { return dir + "/last.pt"; }
  std::string log() const { return dir + "/log.csv"; }
  std::string loss_png() const { return dir + "/loss.png"; }
  std::string copy_index() const { return dir + "/copy_index.bin"; }
  std::string copy_sources() const { return dir + "/copy_index.json"; }
  std::string corpus() const { return dir + "/corpus.arioso"; }
  /// best.pt if there is one, else last.pt; "" when neither exists.
  std::string checkpoint() const;
  /// config.json and a checkpoint: a folder `generate` and `serve` can use.
  bool holds_run() const;
};

/// One line of log.csv (NaN where a field is empty: no validation).
struct LogRow {
  double epoch = 0, step = 0, train_loss = 0, valid_nll = 0, valid_ppl = 0, valid_acc = 0, lr = 0, tokens_per_s = 0, elapsed_s = 0;
};
/// The header log.csv starts with; its fields in LogRow's order.
const char* log_header();
/// Rows of a log.csv ([] if the file is missing); throws FormatError naming the file and line of a bad number.
std::vector<LogRow> read_log(const std::string& path);
/// Rows as JSON objects (header names as keys, null where empty), for the studio.
nlohmann::json log_json(const std::vector<LogRow>& rows);

/// A JSON file we wrote or were given; throws FormatError naming it when it is not JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace arioso::data
