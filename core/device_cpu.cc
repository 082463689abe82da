#include "core/device.h"

#include "core/error.h"

namespace pelab {

DeviceReport query_devices() {
  DeviceReport r;
  r.status = "built without CUDA (configure with the 'cuda' preset on a machine with nvcc)";
  return r;
}

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw Error(std::string(what) + " needs a GPU, but this pelab was built without CUDA",
              "use --device cpu, or build the 'cuda' preset (cmake --workflow --preset cuda)");
}
}  // namespace

void* device_malloc(size_t) { no_cuda("device memory"); }
void device_free(void*) noexcept {}
void copy_to_device(void*, const void*, size_t) { no_cuda("a copy to the device"); }
void copy_to_host(void*, const void*, size_t) { no_cuda("a copy from the device"); }
void device_synchronize() { no_cuda("device synchronization"); }

}  // namespace pelab
