// The studio's queue of pieces; see job_queue.h.
#include "serve/job_queue.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace arioso::serve {

namespace fs = std::filesystem;
using nlohmann::json;

json piece_urls(const std::string& id) {
  const std::string b = "/api/pieces/" + id;
  return {{"status", b}, {"midi", b + "/piece.mid"}, {"wav", b + "/piece.wav"}, {"png", b + "/piece.png"},
          {"notes", b + "/notes.json"}, {"analysis", b + "/analysis.json"}};
}

int JobQueue::push(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= capacity_) return std::max(1, static_cast<int>(std::ceil(mean_job_s_ * static_cast<double>(queue_.size()) / 2)));
    jobs_[job->id] = job;
    queue_.push_back(job);
  }
  cv_.notify_all();
  return 0;
}

std::shared_ptr<Job> JobQueue::next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stopping_ || (!paused_ && !queue_.empty()); });
  if (stopping_) return nullptr;
  auto job = queue_.front();
  queue_.pop_front();
  job->status = "running";
  job->stage = "loading the model";
  return job;
}

void JobQueue::finish(Job& job, const std::string& error, double seconds, std::uint64_t bytes, const json& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  job.seconds_taken = seconds;
  job.bytes = bytes;
  if (error.empty()) {
    job.status = job.stage = "done";
    job.progress = 1;
    job.summary = summary;
    mean_job_s_ = 0.7 * mean_job_s_ + 0.3 * seconds;
  } else {
    job.status = job.stage = "failed";
    job.error = error;
  }
  finished_.push_back(job.id);
  stored_bytes_ += bytes;
  std::error_code ec;
  while (stored_bytes_ > max_bytes_ && finished_.size() > 1) {
    auto old = jobs_.find(finished_.front());
    finished_.pop_front();
    if (old == jobs_.end()) continue;
    stored_bytes_ -= std::min(stored_bytes_, old->second->bytes);
    fs::remove_all(old->second->dir, ec);
    jobs_.erase(old);
  }
}

void JobQueue::set_stage(Job& job, const std::string& stage, double progress) {
  std::lock_guard<std::mutex> lock(mu_);
  job.stage = stage;
  job.progress = progress;
}

bool JobQueue::with_job(const std::string& id, const std::function<void(const Job&)>& f) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  f(*it->second);
  return true;
}

std::optional<json> JobQueue::describe(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return describe_locked(*it->second);
}

json JobQueue::describe_locked(const Job& j) const {
  json d{{"id", j.id}, {"run", j.run}, {"status", j.status}, {"stage", j.stage}, {"progress", j.progress}, {"params", j.params}, {"urls", piece_urls(j.id)}};
  if (j.status == "queued") {
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& q) { return q.get() == &j; });
    d["position"] = static_cast<std::size_t>(it - queue_.begin()) + 1;
  }
  if (!j.error.empty()) d["error"] = j.error;
  if (j.status == "done") {
    d["summary"] = j.summary;
    d["seconds_taken"] = j.seconds_taken;
  }
  return d;
}

void JobQueue::set_paused(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  cv_.notify_all();
}

void JobQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

}  // namespace arioso::serve
