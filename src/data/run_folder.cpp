// See run_folder.h.
#include "data/run_folder.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"

namespace fs = std::filesystem;

namespace arioso::data {

std::string RunFolder::checkpoint() const {
  if (fs::exists(best())) return best();
  if (fs::exists(last())) return last();
  return "";
}

bool RunFolder::holds_run() const { return fs::exists(config()) && !checkpoint().empty(); }

const char* log_header() { return "epoch,step,train_loss,valid_nll,valid_ppl,valid_acc,lr,tokens_per_s,elapsed_s"; }

std::vector<LogRow> read_log(const std::string& path) {
  std::vector<LogRow> rows;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return rows;  // missing or empty: no epoch yet
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string f;
    std::vector<double> v;
    while (std::getline(ss, f, ',')) {
      if (f.empty()) {
        v.push_back(NAN);
        continue;
      }
      char* end = nullptr;
      double x = std::strtod(f.c_str(), &end);
      if (end == f.c_str() || *end != '\0') throw FormatError(fmt::format("{}: line {}: '{}' is not a number", path, line_no, f));
      v.push_back(x);
    }
    if (!line.empty() && line.back() == ',') v.push_back(NAN);
    if (v.size() < 9) throw FormatError(fmt::format("{}: line {}: {} fields, expected 9 ({})", path, line_no, v.size(), log_header()));
    rows.push_back({v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]});
  }
  return rows;
}

nlohmann::json log_json(const std::vector<LogRow>& rows) {
  auto num = [](double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); };
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    out.push_back({{"epoch", num(r.epoch)}, {"step", num(r.step)}, {"train_loss", num(r.train_loss)}, {"valid_nll", num(r.valid_nll)},
                   {"valid_ppl", num(r.valid_ppl)}, {"valid_acc", num(r.valid_acc)}, {"lr", num(r.lr)},
                   {"tokens_per_s", num(r.tokens_per_s)}, {"elapsed_s", num(r.elapsed_s)}});
  }
  return out;
}

nlohmann::json read_json_file(const std::string& path) {
  auto bytes = read_file_bytes(path);
  try {
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

}  // namespace arioso::data
