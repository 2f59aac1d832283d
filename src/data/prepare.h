// `arioso prepare` as a library call: MIDI files and folders -> Corpus, skipping (and listing)
// files that cannot be read, deduplicating identical files, splitting by content hash.
#pragma once
#include <string>
#include <vector>

#include "core/progress.h"
#include "data/corpus.h"

namespace arioso::data {

struct PrepareOptions {
  music::TokenizerConfig tokenizer;
  double valid_fraction = 0.1;
  double test_fraction = 0.0;
};

struct SkippedFile {
  std::string file;
  std::string error;
};

struct PrepareResult {
  Corpus corpus;
  std::size_t files_found = 0;
  std::size_t files_read = 0;
  std::vector<SkippedFile> skipped;     ///< unreadable, implausible and empty files and duplicates, with why
  std::vector<SkippedFile> repairs;     ///< files kept after a repair (an implausible silence cut), with what was done
  double minutes = 0;                   ///< music in the corpus
};

/// Reads every MIDI file under `inputs` (lenient), tokenizes, splits. Throws Error if no file
/// gives any token (the message lists why the first files failed).
PrepareResult prepare_corpus(const std::vector<std::string>& inputs, const PrepareOptions& options,
                             const ProgressFn& progress = {});

}  // namespace arioso::data
