// Child processes: how a sweep runs the same `pelab` commands a user would
// type (and a Slurm array task runs), with their output appended to a log.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pelab {

// Runs argv[0] (a path, not searched in PATH) with argv, stdin from /dev/null,
// stdout and stderr appended to `log_path` (created if missing), and `env`
// added to this process's environment. Returns the exit status, or 128 + the
// signal that killed it; throws pelab::Error when it cannot be started.
// Safe to call from several threads at once (posix_spawn).
int run_process(const std::vector<std::string>& argv, const std::string& log_path,
                const std::vector<std::pair<std::string, std::string>>& env = {});

// One argument quoted for a POSIX shell when it needs quoting.
std::string shell_quote(const std::string& arg);
// A command line the shell reads back as `argv`.
std::string shell_command(const std::vector<std::string>& argv);

// The absolute path of the running executable (/proc/self/exe).
std::string self_executable();

}  // namespace pelab
