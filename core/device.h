// Which accelerators this binary can use. CPU-only builds answer "none" with
// the reason; CUDA builds ask the driver, and any CUDA error counts as none.
#pragma once

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

}  // namespace pelab
