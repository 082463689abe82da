// `pelab version`: what this binary is and what it can run on.
#include <Eigen/Core>
#include <boost/version.hpp>
#include <cstdio>
#include <hdf5.h>
#include <omp.h>

#include "build_info.h"
#include "core/device.h"
#include "core/provenance.h"
#include "cli/cli.h"

namespace pelab::cli {

int run_version(Context&) {
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  std::printf("pelab %s (revision %s, %s build)\n", PELAB_VERSION, PELAB_GIT_REVISION, PELAB_BUILD_TYPE);
  std::printf("result schema version %lld\n", static_cast<long long>(kSchemaVersion));
  std::printf("HDF5 %u.%u.%u, Eigen %d.%d.%d, Boost %d.%d, OpenMP threads %d\n", maj, min, rel, EIGEN_WORLD_VERSION,
              EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
              omp_get_max_threads());
  DeviceReport d = query_devices();
  if (d.cuda_devices > 0) {
    for (const auto& n : d.names) std::printf("CUDA device: %s\n", n.c_str());
  } else {
    std::printf("CUDA: %s\n", d.status.c_str());
  }
  return 0;
}

}  // namespace pelab::cli
