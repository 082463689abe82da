// Runs the pelab binary as a user would and captures what it printed.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pelab::testing {

struct RunResult {
  int rc = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `args` is a shell fragment appended to the binary path (or, with
// with_binary false, the whole shell command); runs inside `dir`. A process
// killed by signal S gives rc 128 + S.
inline RunResult run_pelab(const std::string& args, const std::filesystem::path& dir, bool with_binary = true) {
  const auto out = dir / ".stdout", err = dir / ".stderr";
  const std::string cmd = "cd '" + dir.string() + "' && " + (with_binary ? "'" PELAB_BINARY "' " : "") + args + " > '" +
                          out.string() + "' 2> '" + err.string() + "' < /dev/null";
  int status = std::system(cmd.c_str());
  RunResult r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

// A refused input: a non-zero exit that is not a signal, and exactly one line
// on stderr, "pelab: error: ...", containing `needle`.
inline void expect_clean_failure(const RunResult& r, const std::string& needle) {
  EXPECT_NE(r.rc, 0);
  EXPECT_LT(r.rc, 128) << "killed by a signal";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("pelab: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
}

}  // namespace pelab::testing
