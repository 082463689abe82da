// Plots are drawn by analysis/plot.py under Debian's /usr/bin/python3
// (matplotlib + h5py), reading the HDF5 file pelab just wrote.
#pragma once

#include <string>
#include <vector>

namespace pelab::cli {

// Runs `python3 plot.py KIND H5 --out PNG`; throws pelab::Error naming the fix
// when Python, matplotlib or the script is missing or the plot fails.
// PELAB_PYTHON and PELAB_PLOT_SCRIPT override the interpreter and the script.
// `extra` arguments follow the file (e.g. {"--label", "default"}).
void run_plot(const std::string& kind, const std::string& h5_path, const std::string& png_path,
              const std::vector<std::string>& extra = {});

// Fails early (before any work) when the plot could not be written.
void check_plot_target(const std::string& png_path);

}  // namespace pelab::cli
