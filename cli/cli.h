// The `pelab` command line: subcommands, option groups (--pe.*, --model.*,
// --train.*, --eval.*, --data.*), --config FILE.ini (the command line
// overrides the file) and one error policy for all of them: a pelab::Error or
// a bad option becomes one clear line on stderr and a non-zero exit.
//
// Option values are declared as strings and parsed by Context's getters, so
// every bad value gets the same message shape and the resolved configuration
// can be written back as INI text into result files.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/ini.h"

namespace pelab::cli {

namespace po = boost::program_options;

// Exit codes: 0 success, 1 a run failed (bad data, I/O), 2 bad usage.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class Context {
 public:
  Context(std::vector<std::string> argv, po::variables_map vm, const po::options_description* desc);

  bool has(const std::string& key) const;  // given on the command line, in the file, or defaulted
  bool given(const std::string& key) const;  // given on the command line or in the file (not a default)
  std::string str(const std::string& key) const;
  long long integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool flag(const std::string& key) const;
  std::vector<std::string> list(const std::string& key) const;  // comma list of strings
  std::vector<double> numbers(const std::string& key) const;    // comma list of numbers
  std::vector<std::string> values(const std::string& key) const;  // a repeatable positional argument

  // Every option of the subcommand with its value (defaults included) as INI:
  // global keys first, then one [section] per group. Sections named in
  // `inherited` list only the options given: the rest come from elsewhere (eval
  // and analyze take the encoding from the trained run, not from the defaults).
  std::string resolved_ini(const std::vector<std::string>& inherited = {}) const;
  std::string command_line() const;
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  std::vector<std::string> argv_;
  po::variables_map vm_;
  const po::options_description* desc_;
};

// An option group: options named "<prefix>.<name>", an INI section [prefix].
struct OptionGroup {
  std::string prefix;  // "pe"
  std::string title;   // "Positional encoding"
  std::function<void(po::options_description_easy_init&)> add;
};

struct Command {
  std::string name;
  std::string summary;                 // one line, for `pelab help`
  std::string usage;                   // synopsis and a paragraph, for `pelab help NAME`
  std::vector<std::string> groups;     // prefixes of the option groups it takes
  std::function<void(po::options_description_easy_init&)> add_options;  // its own options
  std::function<int(Context&)> run;
  // Name of one optional positional argument, read as ctx.str(positional):
  // "topic" makes `pelab bench attention --seq 64` store "attention" under
  // "topic". Empty: the command takes no positional argument. It is not listed
  // among the options in help; describe it in `usage`.
  std::string positional = {};
  // --config names the command's input file (a sweep file) instead of an INI
  // file of option defaults; the command reads it itself.
  bool config_is_input = false;
  // The positional argument takes any number of values (ctx.values(positional)).
  bool positional_many = false;
};

// Group and command registries (filled in options.cc and the cmd_*.cc files).
const std::vector<OptionGroup>& option_groups();
const std::vector<Command>& commands();

// Entry point: parses argv, dispatches, and turns every failure into one line.
int main(int argc, char** argv);

// The options one command takes (common, its own, then its groups), kept
// alive together with the Contexts that point at them.
struct CommandOptions {
  po::options_description all;
  std::vector<po::options_description> parts;
};
std::unique_ptr<CommandOptions> command_options(const std::string& command);

// Stores INI entries (core/ini.h) as options of `desc`. store() keeps the
// first value it sees, so store the command line first and the file after.
// A key `desc` does not know is an error naming `source` and the line, unless
// allow_unknown (a configuration written by another pelab version).
void store_ini(const std::vector<IniEntry>& entries, const std::string& source, const po::options_description& desc,
               po::variables_map& vm, bool allow_unknown = false);

// The full help text of one command (usage, then options grouped, with defaults).
std::string command_help(const Command& c);

}  // namespace pelab::cli
