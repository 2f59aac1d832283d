// File helpers: whole-file reads, atomic writes (temporary name + rename), content hashes
// and recursive MIDI discovery. No parsing of any format lives here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace arioso {

/// Reads a whole file; throws Error naming the path when it cannot be opened or read.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

/// Writes `bytes` to `path` through `path.tmp-<pid>` and rename, so a crash leaves the old file.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}
inline void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

/// 64-bit FNV-1a hash of a byte range (content identity of pieces; not cryptographic).
std::uint64_t fnv1a64(const void* data, std::size_t size, std::uint64_t seed = 14695981039346656037ull);

/// Every `.mid`/`.midi` file (any case) under the given files or folders, recursively, in
/// case-insensitive path order, duplicates removed. Throws Error for a path that does not exist.
std::vector<std::string> find_midi_files(const std::vector<std::string>& inputs);

}  // namespace arioso
