#include "core/device.h"

namespace pelab {

DeviceReport query_devices() {
  DeviceReport r;
  r.status = "built without CUDA (configure with the 'cuda' preset on a machine with nvcc)";
  return r;
}

}  // namespace pelab
