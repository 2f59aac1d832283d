// libFuzzer target for the readers of arioso's own binary files, which a user may hand over
// damaged: corpus files (data::parse_corpus) and copy indexes (eval::CopyIndex::deserialize).
// The first byte picks the reader (corpus with its bytes as given, corpus with a correct checksum
// appended so that the fuzzer gets past it, copy index). Contract: a value or an arioso::Error naming the file, never
// a crash or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "data/corpus.h"
#include "eval/originality.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  try {
    if (data[0] % 3 != 2) {
      if (data[0] % 3 == 1) {
        std::uint64_t h = arioso::fnv1a64(bytes.data(), bytes.size());
        for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(h >> (8 * i)));
      }
      auto c = arioso::data::parse_corpus(bytes, "fuzz.arioso");
      (void)c.fingerprint();
    } else {
      auto index = arioso::eval::CopyIndex::deserialize(bytes, "fuzz-index.bin");
      arioso::eval::CopyIndex::Cursor cursor{};
      for (std::uint64_t s = 0; s < 8; ++s) cursor = index.step(cursor, s);
    }
  } catch (const arioso::Error&) {
  }
  return 0;
}
