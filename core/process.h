// Child processes: how a sweep runs the same `pelab` commands a user would
// type (and a Slurm array task runs), with their output appended to a log.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pelab {

// Runs `program` (a path, not searched in PATH; empty: argv[0]) with argv, stdin from /dev/null,
// stdout and stderr appended to `log_path` (created if missing), and `env`
// added to this process's environment. Returns the exit status, or 128 + the
// signal that killed it; throws pelab::Error when it cannot be started.
// Safe to call from several threads at once (posix_spawn).
int run_process(const std::vector<std::string>& argv, const std::string& log_path,
                const std::vector<std::pair<std::string, std::string>>& env = {}, const std::string& program = "");

// One argument quoted for a POSIX shell when it needs quoting.
std::string shell_quote(const std::string& arg);
// A command line the shell reads back as `argv`.
std::string shell_command(const std::vector<std::string>& argv);

// The absolute path of the running executable (/proc/self/exe), for showing
// and for scripts. A rebuild replaces the file while a sweep runs; children
// started with kSelfExe run this very binary (same code as their parent) even then.
std::string self_executable();
inline constexpr const char* kSelfExe = "/proc/self/exe";

}  // namespace pelab
