// The model's view of REMI pitches (music/pitch_view.h).
#include "music/pitch_view.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "music/remi.h"

namespace arioso::music {

namespace {

constexpr int kPitches = RemiSettings::kMaxPitch - RemiSettings::kMinPitch + 1;

int wrap(int j, int n) { return ((j % n) + n) % n; }

/// The pitch class of a key's signature: its major tonic (a minor key's relative major's).
int signature_of_key(int key_index) { return (key_index % 12 + (key_index >= 12 ? 3 : 0)) % 12; }

}  // namespace

bool pitch_view_is_key_relative(const std::string& name) {
  if (name == "absolute") return false;
  if (name == "key") return true;
  throw ConfigError(fmt::format("unknown pitch view '{}' (absolute or key)", name));
}

int PitchView::shift() const { return signature_ <= 6 ? signature_ : signature_ - 12; }

std::int64_t PitchView::model_of(std::int64_t id) const {
  if (!on_ || signature_ == 0) return id;
  const RemiKind kind = remi_kind(static_cast<int>(id));
  if (kind == RemiKind::kPitch) {
    const int first = remi_first_id(RemiKind::kPitch);
    return first + wrap(static_cast<int>(id) - first - shift(), kPitches);
  }
  if (kind == RemiKind::kKey) {
    const int k = remi_value(static_cast<int>(id));
    return remi_first_id(RemiKind::kKey) + wrap(k % 12 - signature_, 12) + (k >= 12 ? 12 : 0);
  }
  return id;
}

std::int64_t PitchView::score_of(std::int64_t id) const {
  if (!on_ || signature_ == 0) return id;
  const RemiKind kind = remi_kind(static_cast<int>(id));
  if (kind == RemiKind::kPitch) {
    const int first = remi_first_id(RemiKind::kPitch);
    return first + wrap(static_cast<int>(id) - first + shift(), kPitches);
  }
  if (kind == RemiKind::kKey) {
    const int k = remi_value(static_cast<int>(id));
    return remi_first_id(RemiKind::kKey) + wrap(k % 12 + signature_, 12) + (k >= 12 ? 12 : 0);
  }
  return id;
}

void PitchView::see(std::int64_t score_id) {
  if (on_ && remi_kind(static_cast<int>(score_id)) == RemiKind::kKey) signature_ = signature_of_key(remi_value(static_cast<int>(score_id)));
}

std::int64_t PitchView::to_model(std::int64_t id) {
  const std::int64_t m = model_of(id);
  see(id);
  return m;
}

std::int64_t PitchView::to_score(std::int64_t id) {
  const std::int64_t s = score_of(id);
  see(s);
  return s;
}

void PitchView::scores_to_score_ids(float* scores) const {
  if (!on_ || signature_ == 0) return;
  // Score id first + j reads the model's first + wrap(j - shift): a rotation of the Pitch block;
  // Key (tonic t) reads the model's Key (t - signature) in each of the major and minor blocks.
  float* pitches = scores + remi_first_id(RemiKind::kPitch);
  std::rotate(pitches, pitches + wrap(-shift(), kPitches), pitches + kPitches);
  float* keys = scores + remi_first_id(RemiKind::kKey);
  for (float* block : {keys, keys + 12}) std::rotate(block, block + wrap(-signature_, 12), block + 12);
}

}  // namespace arioso::music
