// A write that the system refuses (a full disk, the file size limit) ends
// with one line naming the system's reason, exit code 1, and nothing under
// the real name or as a temporary: HDF5's own error stack never reaches the
// terminal (docs/design.md "Failure model").
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "cli_runner.h"

namespace pelab {
namespace {

namespace fs = std::filesystem;
using testing::run_pelab;
using testing::RunResult;

const std::string kDecay = "decay --pe rope --pe.base 10000,500000 --head-dim 128 --max-distance 32768 --out ";

void expect_one_line(const RunResult& r, const std::string& cause) {
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("pelab: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(cause), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("HDF5-DIAG"), std::string::npos) << r.err;
}

bool nothing_written(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("d.h5", 0) == 0) return false;
  return true;
}

TEST(DiskFull, FileSizeLimitNamesTheCause) {
  const fs::path dir = fs::temp_directory_path() / ("pelab_fsize_" + std::to_string(getpid()));
  fs::create_directories(dir);
  // SIGXFSZ ignored (inherited through exec): the write fails with EFBIG instead.
  RunResult r = run_pelab("sh -c \"trap '' XFSZ; ulimit -f 50; exec '" PELAB_BINARY "' " + kDecay + "d.h5\"", dir, false);
  expect_one_line(r, "File too large");
  EXPECT_TRUE(nothing_written(dir));
  fs::remove_all(dir);
}

TEST(DiskFull, FullTmpfsNamesTheCause) {
  const fs::path dir = fs::temp_directory_path() / ("pelab_full_" + std::to_string(getpid()));
  fs::create_directories(dir);
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=200k") != 0) {
    fs::remove_all(dir);
    GTEST_SKIP() << "cannot mount a 200 kB tmpfs here (needs root)";
  }
  RunResult r = run_pelab(kDecay + "d.h5", dir);
  expect_one_line(r, "No space left on device");
  EXPECT_TRUE(nothing_written(dir));
  umount(dir.c_str());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pelab
