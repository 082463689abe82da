#include "cli/plotting.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "build_info.h"
#include "core/error.h"
#include "core/hdf5_file.h"

namespace pelab::cli {

namespace fs = std::filesystem;

namespace {

std::string find_script() {
  if (const char* env = std::getenv("PELAB_PLOT_SCRIPT")) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "pelab" / "plot.py";
    if (fs::exists(installed, ec)) return installed.string();
  }
  return std::string(PELAB_SOURCE_DIR) + "/analysis/plot.py";
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

void check_plot_target(const std::string& png_path) { h5::check_writable_target(png_path, "--plot"); }

void run_plot(const std::string& kind, const std::string& h5_path, const std::string& png_path,
              const std::vector<std::string>& extra) {
  const char* env_python = std::getenv("PELAB_PYTHON");
  const std::string python = env_python ? env_python : "/usr/bin/python3";
  const std::string script = find_script();
  std::error_code ec;
  PELAB_CHECK(fs::exists(python, ec), "cannot plot: " << python << " not found",
              "install Debian's python3-matplotlib and python3-h5py (scripts/install-deps), or drop --plot");
  PELAB_CHECK(fs::exists(script, ec), "cannot plot: plot script '" << script << "' not found",
              "set PELAB_PLOT_SCRIPT to analysis/plot.py of the pelab sources");
  std::string cmd = "MPLBACKEND=Agg " + quote(python) + " " + quote(script) + " " + kind + " " + quote(h5_path);
  for (const auto& a : extra) cmd += " " + quote(a);
  cmd += " --out " + quote(png_path);
  int status = std::system(cmd.c_str());
  PELAB_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "plotting failed (" << cmd << "); the HDF5 results in '" << h5_path << "' are complete",
              "the line above from plot.py says why; scripts/install-deps installs matplotlib and h5py");
}

}  // namespace pelab::cli
