// Data-parallel training over PyTorch's c10d: a Gloo process group (the only backend wired in;
// CUDA tensors would go through Gloo too, NCCL is not wired) met through a TCPStore, and a gradient reducer that all-reduces gradients in
// buckets as the backward pass produces them. A group of one rank does nothing at all.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace arioso::train {

/// Where a rank finds its group: torchrun's variables (WORLD_SIZE, RANK, MASTER_ADDR,
/// MASTER_PORT) or the matching options of `arioso train`.
struct DistOptions {
  int world_size = 1;
  int rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_s = 300;  ///< a collective that waits longer than this fails (a stuck or lost rank)
  /// Fills unset fields from the environment (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT,
  /// ARIOSO_DIST_TIMEOUT); throws ConfigError on values that make no sense.
  static DistOptions from_env(DistOptions given, bool world_given, bool rank_given, bool addr_given, bool port_given);
};

class ProcessGroup;  // c10d's, kept out of this header

/// One rank's membership of the group. Every collective throws arioso::Error naming this rank
/// when a peer is lost (its connection closes) or does not answer within the timeout.
/// A TCP port on 127.0.0.1 that nobody listens on now (the kernel's pick), for rank 0's store
/// in a group started on one machine. Throws Error when the kernel has none to give.
int free_loopback_port();

class Group {
 public:
  /// Joins the group (blocks until all ranks have arrived, or the timeout passes).
  /// The backend is Gloo whatever `device` is (NCCL is not wired in).
  Group(const DistOptions& options, torch::Device device);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& backend() const { return backend_; }

  void all_reduce_sum(torch::Tensor& t);
  /// Sums doubles across ranks (small control values: losses, counts, flags).
  std::vector<double> all_reduce_sum(const std::vector<double>& values);
  void broadcast_from_0(std::vector<torch::Tensor>& tensors);
  void barrier();

  /// Starts an all-reduce (sum) of `t` in place and returns immediately; wait with wait_all().
  void all_reduce_sum_async(torch::Tensor& t);
  void wait_all();

 private:
  void check(const char* what, const std::function<void()>& f);
  int rank_ = 0, size_ = 1;
  std::string backend_;
  torch::Device device_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Sums gradients across the group, bucket by bucket: each parameter's gradient is copied into
/// its bucket when autograd produces it, and a full bucket is sent at once, so communication
/// overlaps the rest of the backward pass. Buckets follow the parameters in reverse order (the
/// order backward produces them), about `bucket_bytes` each.
class GradReducer {
 public:
  GradReducer(Group& group, std::vector<torch::Tensor> params, std::size_t bucket_bytes = 4u << 20);
  /// Bytes each rank sends and receives per step for the gradients (one all-reduce of all of them).
  std::size_t gradient_bytes() const;
  std::size_t buckets() const { return buckets_.size(); }
  /// Call before backward.
  void begin_step();
  /// Call after backward (or instead of it, for a rank with no data this step): sends what is
  /// left (a parameter without a gradient counts as zeros), waits, and writes the sums to .grad.
  void finish_step();

 private:
  struct Bucket {
    torch::Tensor flat;
    std::vector<std::size_t> params;    // indices into params_
    std::vector<std::int64_t> offsets;  // element offset of each in flat
    std::size_t ready = 0;
  };
  void on_grad(std::size_t param, const torch::Tensor& grad);
  void send(Bucket& b);
  Group& group_;
  std::vector<torch::Tensor> params_;
  std::vector<std::pair<std::size_t, std::size_t>> where_;  // param -> (bucket, slot)
  std::vector<bool> got_;
  std::vector<Bucket> buckets_;
  std::size_t next_ = 0;  // the first bucket not yet sent
};

}  // namespace arioso::train
