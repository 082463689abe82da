// Which accelerators this binary can use. CPU-only builds answer "none" with
// the reason; CUDA builds ask the driver, and any CUDA error counts as none.
#pragma once

#include <cstddef>
#include <utility>
#include <string>
#include <vector>

namespace pelab {

struct DeviceReport {
  bool built_with_cuda = false;
  int cuda_devices = 0;                 // usable CUDA devices
  std::vector<std::string> names;       // one per device: "NVIDIA H200 (sm_90, 139 GiB)"
  std::string status;                   // why there are none, when there are none
};

DeviceReport query_devices();

// Device memory for host code built without CUDA headers (benchmarks, tests,
// the model's GPU path). Errors, and every call in a CPU-only build, throw
// pelab::Error naming the call.
void* device_malloc(size_t bytes);
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void device_synchronize();

// An owning device array of n T's.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) : p_(static_cast<T*>(device_malloc(n * sizeof(T)))), n_(n) {}
  explicit DeviceArray(const std::vector<T>& h) : DeviceArray(h.size()) { copy_to_device(p_, h.data(), n_ * sizeof(T)); }
  ~DeviceArray() { device_free(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  std::vector<T> to_host() const {
    std::vector<T> h(n_);
    copy_to_host(h.data(), p_, n_ * sizeof(T));
    return h;
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace pelab
