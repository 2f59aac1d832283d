// The studio's pieces: each request becomes a Job, waits in a bounded queue for the one worker,
// and once finished keeps its folder until the storage cap removes the oldest. Thread-safe;
// tested without sockets.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "generate/generate.h"
#include "generate/infill.h"

namespace arioso::serve {

struct Job {
  std::string id, run;
  std::string mode = "compose";  ///< compose | open (a song as it is) | infill | accompany (of the song)
  generate::GenerateOptions g;
  generate::InfillOptions fill;
  nlohmann::json params;
  std::string dir;               ///< the piece's folder
  std::string status = "queued";  ///< queued | running | done | failed
  std::string stage = "waiting in the queue";
  double progress = 0;
  std::string error;
  nlohmann::json summary;
  double seconds_taken = 0;
  std::uint64_t bytes = 0;
};

class JobQueue {
 public:
  JobQueue(std::size_t capacity, std::uint64_t max_storage_bytes) : capacity_(capacity), max_bytes_(max_storage_bytes) {}

  /// Queues the job and returns 0; when the queue is full, queues nothing and returns the
  /// seconds to retry after (from the recent pieces' time).
  int push(const std::shared_ptr<Job>& job);
  /// The next job, marked running; waits while the queue is empty or paused; nullptr once stopped.
  std::shared_ptr<Job> next();
  /// Records how the job ended (`error` empty: done), then removes the oldest finished pieces,
  /// folders and all, while the stored bytes exceed the cap (never the one just finished).
  void finish(Job& job, const std::string& error, double seconds, std::uint64_t bytes, const nlohmann::json& summary);
  void set_stage(Job& job, const std::string& stage, double progress);
  /// Calls f with the job under the lock and returns true; false when the id is unknown.
  bool with_job(const std::string& id, const std::function<void(const Job&)>& f) const;
  /// What GET /api/pieces/ID answers; nullopt when the id is unknown.
  std::optional<nlohmann::json> describe(const std::string& id) const;
  void set_paused(bool paused);
  void stop();

 private:
  nlohmann::json describe_locked(const Job& j) const;

  std::size_t capacity_;
  std::uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> finished_;  // oldest first, for the storage cap
  std::uint64_t stored_bytes_ = 0;
  double mean_job_s_ = 5;
  bool paused_ = false, stopping_ = false;
};

/// The URLs of a piece's status and files.
nlohmann::json piece_urls(const std::string& id);

}  // namespace arioso::serve
