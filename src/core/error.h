// Error types thrown by every arioso library. Libraries never print or exit: they throw
// one of these, and app/ turns them into a message and an exit status.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

namespace arioso {

/// Base class of every error arioso throws on bad input or failed I/O.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file could not be parsed; the message reads `path:0x1a3: track 2: what`.
class ParseError : public Error {
 public:
  /// `track` < 0 means the error is not inside a track (header, chunk layout).
  ParseError(const std::string& path, std::size_t offset, int track, const std::string& what);
  const std::string& path() const { return path_; }
  std::size_t offset() const { return offset_; }
  int track() const { return track_; }

 private:
  std::string path_;
  std::size_t offset_;
  int track_;
};

/// One of our own binary formats (corpus, checkpoint) is corrupt or of the wrong version.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// An option or configuration value is invalid.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Formats a location the way ParseError and diagnostics do: `path:0x1a3: track 2: `.
std::string format_location(const std::string& path, std::size_t offset, int track);

}  // namespace arioso
