// The model's view of REMI pitches (music/pitch_view.h): exact images under given keys, a
// bijection on any id sequence, the reordering of next-token scores, and what transposition
// leaves of it.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/error.h"
#include "music/pitch_view.h"
#include "music/remi.h"
#include "music/tokenizer.h"
#include "tunes.h"

using namespace arioso;
using music::PitchView;
using music::RemiKind;

namespace {

const music::Vocab kVocab = music::Vocab::for_remi(music::tokenizer_named("remi").remi);

std::int64_t id(const std::string& token) { return kVocab.id(token); }
std::string token(std::int64_t i) { return kVocab.token(static_cast<int>(i)); }

/// The token a model reads for `pitch` right after `key`.
std::string read_in(const std::string& key, const std::string& pitch) {
  PitchView v(true);
  v.to_model(id(key));
  return token(v.to_model(id(pitch)));
}

}  // namespace

TEST(PitchView, PitchesReadRelativeToTheKeySignature) {
  EXPECT_EQ(read_in("Key_C:major", "Pitch_60"), "Pitch_60");
  EXPECT_EQ(read_in("Key_D:major", "Pitch_62"), "Pitch_60");        // shift +2
  EXPECT_EQ(read_in("Key_B:minor", "Pitch_62"), "Pitch_60");        // B minor reads as D major
  EXPECT_EQ(read_in("Key_A:minor", "Pitch_69"), "Pitch_69");        // A minor reads as C major
  EXPECT_EQ(read_in("Key_F#:major", "Pitch_66"), "Pitch_60");       // +6, the largest shift up
  EXPECT_EQ(read_in("Key_G:major", "Pitch_67"), "Pitch_72");        // G is -5: up a fourth
  EXPECT_EQ(read_in("Key_E:minor", "Pitch_71"), "Pitch_76");        // E minor reads as G major
  EXPECT_EQ(read_in("Key_Bb:major", "Pitch_70"), "Pitch_72");       // -2
  // Pitches pushed out of 21..108 come round from the other end, so none is lost.
  EXPECT_EQ(read_in("Key_D:major", "Pitch_21"), "Pitch_107");
  EXPECT_EQ(read_in("Key_D:major", "Pitch_22"), "Pitch_108");
  EXPECT_EQ(read_in("Key_G:major", "Pitch_108"), "Pitch_25");
  // A Key reads relative to the key before it: the same key, or its relative minor, reads as
  // C major or A minor whatever it is; a change by its interval.
  EXPECT_EQ(read_in("Key_E:major", "Key_E:major"), "Key_C:major");
  EXPECT_EQ(read_in("Key_E:major", "Key_C#:minor"), "Key_A:minor");
  EXPECT_EQ(read_in("Key_E:major", "Key_B:major"), "Key_G:major");   // up a fifth
  EXPECT_EQ(read_in("Key_Bb:major", "Key_G:minor"), "Key_A:minor");  // Bb's relative minor
  EXPECT_EQ(read_in("Key_D:minor", "Key_D:major"), "Key_A:major");   // D minor reads as F: D is F + 9
  PitchView first(true);
  EXPECT_EQ(token(first.to_model(id("Key_Eb:minor"))), "Key_Eb:minor");  // the first Key is as written
  // Everything else is itself, drums included; so is every pitch before the first Key.
  for (const char* t : {"Bar", "Position_12", "Velocity_63", "Drum_36", "Program_33"}) EXPECT_EQ(read_in("Key_E:major", t), t);
  PitchView before(true);
  EXPECT_EQ(token(before.to_model(id("Pitch_64"))), "Pitch_64");
  // The absolute view is the identity.
  PitchView off(false);
  off.to_model(id("Key_D:major"));
  EXPECT_EQ(token(off.to_model(id("Pitch_62"))), "Pitch_62");
  EXPECT_FALSE(music::pitch_view_is_key_relative("absolute"));
  EXPECT_TRUE(music::pitch_view_is_key_relative("key"));
  EXPECT_THROW(music::pitch_view_is_key_relative("relative"), ConfigError);
}

TEST(PitchView, ABijectionOnAnySequence) {
  std::mt19937 rng(7);
  const int V = kVocab.size();
  const int key0 = music::remi_first_id(RemiKind::kKey), pitch0 = music::remi_first_id(RemiKind::kPitch);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 300; ++i) {
      const int r = std::uniform_int_distribution<int>(0, 9)(rng);
      if (r == 0) ids.push_back(key0 + std::uniform_int_distribution<int>(0, 23)(rng));
      else if (r < 6) ids.push_back(pitch0 + std::uniform_int_distribution<int>(0, 87)(rng));
      else ids.push_back(std::uniform_int_distribution<int>(0, V - 1)(rng));
    }
    std::vector<std::int64_t> model = ids;
    music::to_model_ids(model, PitchView(true));
    PitchView back(true);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ(back.to_score(model[i]), ids[i]) << "trial " << trial << " token " << i;
      ASSERT_EQ(music::remi_kind(static_cast<int>(model[i])), music::remi_kind(static_cast<int>(ids[i])));
    }
  }
}

TEST(PitchView, ScoresAreReorderedToTheIdsTheyStandFor) {
  const int V = kVocab.size();
  for (const char* key : {"Key_C:major", "Key_D:major", "Key_G:major", "Key_F#:major", "Key_C#:minor"}) {
    PitchView v(true);
    v.to_model(id(key));
    std::vector<float> scores(static_cast<std::size_t>(V));
    for (int i = 0; i < V; ++i) scores[static_cast<std::size_t>(i)] = static_cast<float>(i);  // the model's score of id i is i
    v.scores_to_score_ids(scores.data());
    for (int i = 0; i < V; ++i) ASSERT_EQ(scores[static_cast<std::size_t>(i)], static_cast<float>(v.model_of(i))) << key << " id " << i;
  }
}

TEST(PitchView, TransposingAPieceMovesItsFirstKeyAndLeavesItsDegrees) {
  // A tune and its transpositions read the same scale degrees and key changes: what a model
  // sees of the notes changes by whole octaves at most, of the keys only the first, while the
  // written pitches and keys all move by the interval.
  const music::TokenizerConfig cfg = music::tokenizer_named("remi");
  std::vector<int> ids;
  for (const auto& t : music::remi_encode(test::band_tune(2, 40), cfg.remi)) ids.push_back(kVocab.id(t));
  std::vector<std::int64_t> base(ids.begin(), ids.end());
  music::to_model_ids(base, PitchView(true));
  for (int semitones = -6; semitones <= 6; ++semitones) {
    auto moved = music::remi_transpose(ids, semitones);
    ASSERT_TRUE(moved.has_value());
    std::vector<std::int64_t> view(moved->begin(), moved->end());
    music::to_model_ids(view, PitchView(true));
    int pitches = 0, keys = 0;
    for (std::size_t i = 0; i < view.size(); ++i) {
      const RemiKind kind = music::remi_kind(static_cast<int>(view[i]));
      if (kind == RemiKind::kPitch) {
        ++pitches;
        EXPECT_EQ(((view[i] - base[i]) % 12 + 12) % 12, 0) << "shift " << semitones << " token " << i;
      } else if (kind != RemiKind::kKey || keys++ > 0) {
        EXPECT_EQ(view[i], base[i]) << "shift " << semitones << " token " << i;
      }
    }
    EXPECT_GT(pitches, 30);
    EXPECT_GT(keys, 3);
  }
}
