#include <cuda_runtime.h>

#include <cstdio>

#include "core/device.h"

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

}  // namespace pelab
