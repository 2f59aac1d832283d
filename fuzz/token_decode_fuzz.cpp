// libFuzzer target for reading token text (`arioso tokens` JSON, primers, what a model wrote):
// the bytes as a JSON array of token strings, or else as one token per line, decoded under every
// tokenizer setting. Contract: a Score or an arioso::Error, never a crash.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "music/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> tokens;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded() && j.is_array()) {
    for (const auto& t : j) {
      if (t.is_string()) tokens.push_back(t.get<std::string>());
    }
  } else {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) tokens.push_back(line);
  }
  for (const char* name : {"remi", "remi-merged", "remi-plain", "classic"}) {
    try {
      auto score = arioso::music::detokenize(tokens, arioso::music::tokenizer_named(name));
      (void)score.end_tick();
    } catch (const arioso::Error&) {
    }
  }
  return 0;
}
