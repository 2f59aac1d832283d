// Corpus file format (little-endian):
//   "ARIOSOCP" u32 version  u32 header_len  header JSON {tokenizer, vocab, meta}
//   u32 pieces, each: u32 path_len path  u64 hash  u8 split  f32 seconds  u32 n  n x u16 tokens
//   u64 FNV-1a checksum of all preceding bytes
#include "data/corpus.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/files.h"

namespace arioso::data {

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kValid: return "valid";
    case Split::kTest: return "test";
  }
  return "?";
}

std::uint64_t Corpus::fingerprint() const {
  std::uint64_t h = vocab.hash();
  for (const auto& p : pieces) {
    h = fnv1a64(&p.content_hash, sizeof p.content_hash, h);
    h = fnv1a64(&p.split, 1, h);
    h = fnv1a64(p.tokens.data(), p.tokens.size() * 2, h);
  }
  return h;
}

std::size_t Corpus::token_count(Split s) const {
  std::size_t n = 0;
  for (const auto& p : pieces) n += p.split == s ? p.tokens.size() : 0;
  return n;
}
std::size_t Corpus::piece_count(Split s) const {
  std::size_t n = 0;
  for (const auto& p : pieces) n += p.split == s;
  return n;
}

Split split_for_hash(std::uint64_t h, double valid_fraction, double test_fraction) {
  // Mix the hash so that similar hashes spread, then take 53 bits as a uniform number in [0, 1).
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  double u = static_cast<double>(h >> 11) / 9007199254740992.0;
  if (u < valid_fraction) return Split::kValid;
  if (u < valid_fraction + test_fraction) return Split::kTest;
  return Split::kTrain;
}

namespace {

void put(std::vector<std::uint8_t>& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
template <class T>
void put_le(std::vector<std::uint8_t>& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i)));
}

class In {
 public:
  In(const std::vector<std::uint8_t>& b, const std::string& path) : b_(b), path_(path) {}
  template <class T>
  T get() {
    need(sizeof(T));
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t{b_[p_ + i]} << (8 * i);
    p_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::string str(std::size_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(b_.data() + p_), n);
    p_ += n;
    return s;
  }
  void need(std::size_t n) const {
    if (b_.size() - p_ < n) {
      throw FormatError(fmt::format("{}: corpus file truncated at byte {} (needed {} more bytes, {} available); re-run 'arioso prepare'",
                                    path_, p_, n, b_.size() - p_));
    }
  }
  std::size_t pos() const { return p_; }
  const std::uint8_t* at() const { return b_.data() + p_; }
  void skip(std::size_t n) { need(n); p_ += n; }

 private:
  const std::vector<std::uint8_t>& b_;
  const std::string& path_;
  std::size_t p_ = 0;
};

constexpr char kMagic[8] = {'A', 'R', 'I', 'O', 'S', 'O', 'C', 'P'};

}  // namespace

void write_corpus(const std::string& path, const Corpus& c) {
  std::vector<std::uint8_t> out;
  put(out, kMagic, 8);
  put_le<std::uint32_t>(out, kCorpusVersion);
  nlohmann::json header{{"tokenizer", c.tokenizer.to_json()}, {"vocab", c.vocab.tokens()}, {"meta", c.meta}};
  std::string hs = header.dump();
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(hs.size()));
  put(out, hs.data(), hs.size());
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(c.pieces.size()));
  for (const auto& p : c.pieces) {
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(p.source.size()));
    put(out, p.source.data(), p.source.size());
    put_le<std::uint64_t>(out, p.content_hash);
    put_le<std::uint8_t>(out, static_cast<std::uint8_t>(p.split));
    std::uint32_t sec;
    std::memcpy(&sec, &p.seconds, 4);
    put_le<std::uint32_t>(out, sec);
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(p.tokens.size()));
    for (std::uint16_t t : p.tokens) put_le<std::uint16_t>(out, t);
  }
  put_le<std::uint64_t>(out, fnv1a64(out.data(), out.size()));
  write_file_atomic(path, out);
}

bool is_corpus_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  return in.read(magic, 8) && std::memcmp(magic, kMagic, 8) == 0;
}

Corpus read_corpus(const std::string& path) { return parse_corpus(read_file_bytes(path), path); }

Corpus parse_corpus(const std::vector<std::uint8_t>& b, const std::string& path) {
  if (b.size() < 12 || std::memcmp(b.data(), kMagic, 8) != 0) {
    throw FormatError(fmt::format("{}: not an arioso corpus (no ARIOSOCP magic); make one with 'arioso prepare'", path));
  }
  In in(b, path);
  in.skip(8);
  auto version = in.get<std::uint32_t>();
  if (version != kCorpusVersion) {
    throw FormatError(fmt::format("{}: corpus version {}, expected {} (re-run 'arioso prepare')", path, version, kCorpusVersion));
  }
  if (b.size() < 20) throw FormatError(fmt::format("{}: corpus file truncated ({} bytes); re-run 'arioso prepare'", path, b.size()));
  std::uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= std::uint64_t{b[b.size() - 8 + static_cast<std::size_t>(i)]} << (8 * i);
  if (fnv1a64(b.data(), b.size() - 8) != stored) {
    throw FormatError(fmt::format("{}: corpus file is corrupt (checksum mismatch); re-run 'arioso prepare'", path));
  }
  Corpus c;
  auto hlen = in.get<std::uint32_t>();
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(in.str(hlen));
    c.tokenizer = music::TokenizerConfig::from_json(header.at("tokenizer"));
    c.vocab = music::Vocab(header.at("vocab").get<std::vector<std::string>>());
    c.meta = header.value("meta", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: corpus header is not valid: {}", path, e.what()));
  }
  auto n = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < n; ++i) {
    Piece p;
    p.source = in.str(in.get<std::uint32_t>());
    p.content_hash = in.get<std::uint64_t>();
    auto split = in.get<std::uint8_t>();
    if (split > 2) throw FormatError(fmt::format("{}: piece {} has split {} (corrupt corpus)", path, i, split));
    p.split = static_cast<Split>(split);
    auto sec = in.get<std::uint32_t>();
    std::memcpy(&p.seconds, &sec, 4);
    auto count = in.get<std::uint32_t>();
    in.need(static_cast<std::size_t>(count) * 2);
    p.tokens.resize(count);
    for (auto& t : p.tokens) {
      t = in.get<std::uint16_t>();
      if (t >= c.vocab.size()) throw FormatError(fmt::format("{}: piece {} has token id {} outside the vocabulary of {}", path, i, t, c.vocab.size()));
    }
    c.pieces.push_back(std::move(p));
  }
  return c;
}

}  // namespace arioso::data
