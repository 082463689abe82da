#include <cuda_runtime.h>

#include <cstdio>

#include "core/device.h"
#include "core/error.h"

namespace pelab {

DeviceReport query_devices() {
  DeviceReport r;
  r.built_with_cuda = true;
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    // Without a driver this is error 35 (insufficient driver): treat as no device.
    r.status = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    return r;
  }
  if (n == 0) r.status = "no CUDA device found";
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %.0f GiB)", p.name, p.major, p.minor,
                  p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    r.names.push_back(buf);
  }
  r.cuda_devices = static_cast<int>(r.names.size());
  return r;
}

namespace {
void check(cudaError_t e, const char* what, size_t bytes) {
  if (e == cudaSuccess) return;
  cudaGetLastError();
  throw Error(std::string(what) + " of " + std::to_string(bytes) + " bytes failed: " + cudaGetErrorString(e),
              "check that a GPU is usable (pelab version) and has enough free memory");
}
}  // namespace

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc", bytes);
  return p;
}
void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}
void copy_to_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "a copy to the device", bytes);
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "a copy from the device", bytes);
}
void device_synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", 0); }

}  // namespace pelab
