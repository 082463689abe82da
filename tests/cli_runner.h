// Runs the pelab binary as a user would and captures what it printed.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace pelab::testing
