// PELAB_HD marks math that CPU and CUDA code share: one definition, compiled for
// host and device (marian's HOST_DEVICE). Keep these functions free of
// exceptions, allocation and the standard library beyond <cmath>.
#pragma once

#if defined(__CUDACC__)
#define PELAB_HD __host__ __device__
#else
#define PELAB_HD
#endif
