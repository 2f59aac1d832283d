// c10d process group and bucketed gradient all-reduce; see distributed.h.
#include "train/distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "core/error.h"

namespace arioso::train {

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    throw Error("no free port on 127.0.0.1 for a local group");
  }
  close(fd);
  return ntohs(a.sin_port);
}

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end != '\0') throw ConfigError(fmt::format("{}={}: not a whole number", name, v));
  return static_cast<int>(x);
}

}  // namespace

DistOptions DistOptions::from_env(DistOptions o, bool world_given, bool rank_given, bool addr_given, bool port_given) {
  if (!world_given) o.world_size = env_int("WORLD_SIZE", o.world_size);
  if (!rank_given) o.rank = env_int("RANK", o.rank);
  if (!addr_given && env("MASTER_ADDR")) o.master_addr = env("MASTER_ADDR");
  if (!port_given) o.master_port = env_int("MASTER_PORT", o.master_port);
  if (const char* t = env("ARIOSO_DIST_TIMEOUT")) o.timeout_s = std::atof(t);
  if (o.world_size < 1) throw ConfigError(fmt::format("world size {}: must be at least 1", o.world_size));
  if (o.rank < 0 || o.rank >= o.world_size) throw ConfigError(fmt::format("rank {}: must be in 0..{} for a world of {}", o.rank, o.world_size - 1, o.world_size));
  if (o.master_port < 1 || o.master_port > 65535) throw ConfigError(fmt::format("master port {}: must be in 1..65535", o.master_port));
  if (!(o.timeout_s > 0)) throw ConfigError("the group's timeout must be positive");
  return o;
}

struct Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
};

Group::Group(const DistOptions& o, torch::Device device) : rank_(o.rank), size_(o.world_size), device_(device), impl_(std::make_unique<Impl>()) {
  if (size_ == 1) return;
  auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.master_port);
    so.isServer = rank_ == 0;
    so.numWorkers = size_;
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create();
    opts->timeout = timeout;
    // As PyTorch does: GLOO_SOCKET_IFNAME picks the interface; a group on this machine uses
    // loopback; otherwise the address this host's name resolves to.
    const std::string& a = o.master_addr;
    if (const char* ifname = env("GLOO_SOCKET_IFNAME")) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (a == "localhost" || a.rfind("127.", 0) == 0 || a == "::1") {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, rank_, size_, opts);
    backend_ = "gloo";
  } catch (const std::exception& e) {
    throw Error(fmt::format("rank {} of {}: could not join the group at {}:{}: {}", rank_, size_, o.master_addr, o.master_port, e.what()));
  }
}

Group::~Group() = default;

void Group::check(const char* what, const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw Error(fmt::format("rank {} of {}: {} failed, another rank stopped or did not answer in time: {}", rank_, size_, what, msg));
  }
}

void Group::all_reduce_sum(torch::Tensor& t) {
  if (size_ == 1) return;
  std::vector<torch::Tensor> v{t};
  check("all-reduce", [&] { impl_->pg->allreduce(v)->wait(); });
}

std::vector<double> Group::all_reduce_sum(const std::vector<double>& values) {
  if (size_ == 1) return values;
  auto t = torch::tensor(values, torch::kDouble);
  all_reduce_sum(t);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

void Group::broadcast_from_0(std::vector<torch::Tensor>& tensors) {
  if (size_ == 1) return;
  for (auto& t : tensors) {
    std::vector<torch::Tensor> v{t};
    check("broadcast", [&] { impl_->pg->broadcast(v)->wait(); });
  }
}

void Group::barrier() {
  if (size_ == 1) return;
  check("barrier", [&] { impl_->pg->barrier()->wait(); });
}

void Group::all_reduce_sum_async(torch::Tensor& t) {
  if (size_ == 1) return;
  std::vector<torch::Tensor> v{t};
  check("all-reduce", [&] { impl_->pending.push_back(impl_->pg->allreduce(v)); });
}

void Group::wait_all() {
  auto pending = std::move(impl_->pending);
  impl_->pending.clear();
  check("all-reduce", [&] {
    for (auto& w : pending) w->wait();
  });
}

GradReducer::GradReducer(Group& group, std::vector<torch::Tensor> params, std::size_t bucket_bytes)
    : group_(group), params_(std::move(params)), where_(params_.size()), got_(params_.size(), false) {
  // Reverse order: backward produces the last layers' gradients first.
  Bucket cur;
  std::int64_t elems = 0;
  auto close = [&] {
    if (cur.params.empty()) return;
    cur.flat = torch::zeros({elems}, params_[cur.params[0]].options());
    buckets_.push_back(std::move(cur));
    cur = Bucket{};
    elems = 0;
  };
  for (std::size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    where_[k] = {buckets_.size(), cur.params.size()};
    cur.params.push_back(k);
    cur.offsets.push_back(elems);
    elems += p.numel();
    if (static_cast<std::size_t>(elems) * p.element_size() >= bucket_bytes) close();
  }
  close();
  if (group_.size() == 1) return;
  for (std::size_t k = 0; k < params_.size(); ++k) {
    params_[k].register_hook([this, k](const torch::Tensor& g) { on_grad(k, g); });
  }
}

std::size_t GradReducer::gradient_bytes() const {
  std::size_t n = 0;
  for (const auto& b : buckets_) n += static_cast<std::size_t>(b.flat.numel()) * b.flat.element_size();
  return n;
}

void GradReducer::begin_step() {
  std::fill(got_.begin(), got_.end(), false);
  next_ = 0;
  for (auto& b : buckets_) b.ready = 0;
}

void GradReducer::on_grad(std::size_t k, const torch::Tensor& grad) {
  auto [bi, slot] = where_[k];
  Bucket& b = buckets_[bi];
  auto dst = b.flat.narrow(0, b.offsets[slot], params_[k].numel());
  if (got_[k]) {
    dst.add_(grad.reshape({-1}));  // a second contribution (should autograd ever deliver one)
    return;
  }
  got_[k] = true;
  dst.copy_(grad.reshape({-1}));
  ++b.ready;
  // Collectives are matched by their order on each rank, so buckets go out in index order:
  // a full bucket waits for the ones before it.
  while (next_ < buckets_.size() && buckets_[next_].ready == buckets_[next_].params.size()) send(buckets_[next_++]);
}

void GradReducer::send(Bucket& b) {
  group_.all_reduce_sum_async(b.flat);
}

void GradReducer::finish_step() {
  if (group_.size() == 1) return;
  for (; next_ < buckets_.size(); ++next_) {
    Bucket& b = buckets_[next_];
    for (std::size_t s = 0; s < b.params.size(); ++s) {
      if (!got_[b.params[s]]) b.flat.narrow(0, b.offsets[s], params_[b.params[s]].numel()).zero_();
    }
    send(b);
  }
  group_.wait_all();
  for (auto& b : buckets_) {
    for (std::size_t s = 0; s < b.params.size(); ++s) {
      auto& p = params_[b.params[s]];
      auto sum = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      p.mutable_grad().copy_(sum);
    }
  }
}

}  // namespace arioso::train
