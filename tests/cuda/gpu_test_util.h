// GPU test helpers: every GPU test starts with PELAB_REQUIRE_GPU(), which skips
// (ctest "Skipped", still a pass) when no device is usable. Any CUDA error at
// start counts as no device: machines without a driver return error 35.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#define PELAB_REQUIRE_GPU()                                                    \
  do {                                                                         \
    int pelab_n_ = 0;                                                          \
    cudaError_t pelab_e_ = cudaGetDeviceCount(&pelab_n_);                      \
    if (pelab_e_ != cudaSuccess || pelab_n_ == 0) {                            \
      cudaGetLastError();                                                      \
      GTEST_SKIP() << "no CUDA device: " << cudaGetErrorString(pelab_e_);      \
    }                                                                          \
  } while (0)

#define PELAB_CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call << ": " << cudaGetErrorString(cudaGetLastError())
