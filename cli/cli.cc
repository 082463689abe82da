#include "cli/cli.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/hdf5_file.h"
#include "core/strings.h"

namespace pelab::cli {

Context::Context(std::vector<std::string> argv, po::variables_map vm, const po::options_description* desc)
    : argv_(std::move(argv)), vm_(std::move(vm)), desc_(desc) {}

bool Context::has(const std::string& key) const { return vm_.count(key) > 0; }
bool Context::given(const std::string& key) const { return vm_.count(key) > 0 && !vm_[key].defaulted(); }

std::string Context::str(const std::string& key) const {
  PELAB_CHECK(has(key), "missing required option --" << key, "run 'pelab help " << (argv_.size() > 1 ? argv_[1] : "") << "'");
  return vm_[key].as<std::string>();
}

long long Context::integer(const std::string& key) const { return parse_int(str(key), "--" + key); }
double Context::number(const std::string& key) const { return parse_double(str(key), "--" + key); }
bool Context::flag(const std::string& key) const { return has(key) && vm_[key].as<bool>(); }

std::vector<std::string> Context::list(const std::string& key) const {
  auto items = split(str(key));
  for (const auto& s : items)
    PELAB_CHECK(!s.empty(), "empty item in --" << key << " '" << str(key) << "'", "write a comma list such as a,b,c");
  return items;
}

std::vector<double> Context::numbers(const std::string& key) const { return parse_double_list(str(key), "--" + key); }

std::vector<std::string> Context::values(const std::string& key) const {
  if (!vm_.count(key)) return {};
  return vm_[key].as<std::vector<std::string>>();
}

std::string Context::command_line() const { return join(argv_, " "); }

std::string Context::resolved_ini(const std::vector<std::string>& inherited) const {
  std::vector<std::string> global;
  std::map<std::string, std::vector<std::string>> sections;
  for (const auto& opt : desc_->options()) {
    const std::string& name = opt->long_name();
    // What the command was asked to do, not how: never part of a saved configuration.
    if (name == "config" || name == "help" || name == "print-config" || !vm_.count(name)) continue;
    const auto& v = vm_[name].value();
    std::string value;
    if (auto* s = boost::any_cast<std::string>(&v)) value = *s;
    else if (auto* b = boost::any_cast<bool>(&v)) value = *b ? "true" : "false";
    else continue;
    size_t dot = name.find('.');
    if (dot != std::string::npos && vm_[name].defaulted() &&
        std::find(inherited.begin(), inherited.end(), name.substr(0, dot)) != inherited.end())
      continue;
    if (dot == std::string::npos) global.push_back(name + " = " + value);
    else sections[name.substr(0, dot)].push_back(name.substr(dot + 1) + " = " + value);
  }
  std::string ini = "# resolved by pelab " + (argv_.size() > 1 ? argv_[1] : std::string()) + "\n";
  for (const auto& section : inherited)
    ini += "# [" + section + "] lists only the settings given here; the others are the trained run's\n";
  for (const auto& line : global) ini += line + "\n";
  for (const auto& [section, lines] : sections) {
    ini += "\n[" + section + "]\n";
    for (const auto& line : lines) ini += line + "\n";
  }
  return ini;
}

namespace {

const Command* find_command(const std::string& name) {
  for (const auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

std::string command_names() {
  std::vector<std::string> names;
  for (const auto& c : commands()) names.push_back(c.name);
  return join(names, ", ");
}

// Boost's messages name the option but not the fix; reword the common ones.
std::string describe(const po::error& e, const std::string& cmd) {
  std::string hint = "run 'pelab help " + cmd + "' for the options";
  if (auto* u = dynamic_cast<const po::unknown_option*>(&e))
    return "unknown option '" + u->get_option_name() + "' for 'pelab " + cmd + "'; " + hint;
  if (dynamic_cast<const po::too_many_positional_options_error*>(&e))
    return "unexpected extra argument for 'pelab " + cmd + "' (options start with --); " + hint;
  if (auto* s = dynamic_cast<const po::invalid_config_file_syntax*>(&e))
    return std::string("malformed config file: ") + s->what() + "; lines must be 'key = value' or '[section]'";
  return std::string(e.what()) + "; " + hint;
}

int print_error(const std::string& line) {
  std::string one = line;
  for (char& ch : one)
    if (ch == '\n' || ch == '\r') ch = ' ';
  std::fprintf(stderr, "pelab: error: %s\n", one.c_str());
  return kExitUsage;
}

void print_top_help(std::FILE* out) {
  std::fprintf(out, "pelab: train and measure positional encodings for length extrapolation\n\n"
                    "usage: pelab SUBCOMMAND [options]    (pelab help SUBCOMMAND for its options)\n\nsubcommands:\n");
  for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name.c_str(), c.summary.c_str());
}

int run_command(const Command& c, const std::vector<std::string>& args) {
  std::unique_ptr<CommandOptions> desc = command_options(c.name);
  po::options_description& all = desc->all;

  // A positional argument (e.g. the topic of `pelab bench attention`) is a
  // hidden option: parsed and resolved like the others, not listed in help.
  po::positional_options_description positional;
  if (!c.positional.empty()) {
    po::options_description hidden;
    if (c.positional_many)
      hidden.add_options()(c.positional.c_str(), po::value<std::vector<std::string>>(), c.positional.c_str());
    else
      hidden.add_options()(c.positional.c_str(), po::value<std::string>(), c.positional.c_str());
    all.add(hidden);
    positional.add(c.positional.c_str(), c.positional_many ? -1 : 1);
  }

  po::variables_map vm;
  // The first store() wins: command line first, then the file fills the rest.
  std::vector<std::string> rest(args.begin() + 2, args.end());
  po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
  if (vm.count("config") && !c.config_is_input) {
    const std::string path = vm["config"].as<std::string>();
    std::error_code ec;
    PELAB_CHECK(std::filesystem::is_regular_file(path, ec), "config file '" << path << "' cannot be opened (missing, unreadable or not a file)",
                "check the path given to --config");
    const std::string source = "config file '" + path + "'";
    const std::string text = read_text(path, "config file");
    store_ini(parse_ini(text, source), source, all, vm);
  }
  po::notify(vm);
  if (vm["help"].as<bool>()) {
    std::fputs(command_help(c).c_str(), stdout);
    return 0;
  }
  Context ctx(args, std::move(vm), &all);
  return c.run(ctx);
}

}  // namespace

std::unique_ptr<CommandOptions> command_options(const std::string& name) {
  const Command* c = find_command(name);
  PELAB_CHECK(c, "internal: no command '" << name << "'", "this is a bug in pelab");
  auto d = std::make_unique<CommandOptions>();
  d->parts.emplace_back("Common options");
  d->parts.back().add_options()
      ("help,h", po::bool_switch(), "show this help")
      ("config", po::value<std::string>(), "INI file with defaults; the command line overrides it");
  if (c->add_options) {
    d->parts.emplace_back("Options of 'pelab " + c->name + "'");
    auto init = d->parts.back().add_options();
    c->add_options(init);
  }
  for (const auto& prefix : c->groups)
    for (const auto& g : option_groups())
      if (g.prefix == prefix) {
        d->parts.emplace_back(g.title + " (--" + g.prefix + ".*, INI section [" + g.prefix + "])");
        auto init = d->parts.back().add_options();
        g.add(init);
      }
  for (const auto& p : d->parts) d->all.add(p);
  return d;
}

void store_ini(const std::vector<IniEntry>& entries, const std::string& source, const po::options_description& desc,
               po::variables_map& vm, bool allow_unknown) {
  po::parsed_options parsed(&desc);
  for (const auto& e : entries) {
    const po::option_description* d = desc.find_nothrow(e.key, /*approx=*/false);
    if (!d) {
      PELAB_CHECK(allow_unknown, source << " line " << e.line << ": unknown option '" << e.key << "'",
                  "global keys go before the first [section]; 'pelab help' with the subcommand lists the options");
      continue;
    }
    PELAB_CHECK(e.key != "config", source << " line " << e.line << ": 'config' cannot be set inside a config file",
                "give --config on the command line");
    po::option o;
    o.string_key = e.key;
    o.value.push_back(e.value);
    o.original_tokens = {e.key, e.value};
    parsed.options.push_back(std::move(o));
  }
  try {
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw Error("in " + source + ": " + e.what(), "check the values in the file");
  }
}

std::string command_help(const Command& c) {
  std::unique_ptr<CommandOptions> d = command_options(c.name);
  std::ostringstream os;
  os << c.usage << "\n\n" << d->all << "\n";
  return os.str();
}

int main(int argc, char** argv) {
  // Every file pelab writes is closed explicitly (RAII), so HDF5's exit handler
  // has nothing to do, except after a failed write (a full disk): then
  // HDF5 1.10's handler crashes closing the half-closed file. Do without it.
  H5dont_atexit();
  h5::silence_library_errors();
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() < 2) {
    return print_error("no subcommand given; run 'pelab help' to list them");
  }
  const std::string name = args[1];
  if (name == "--help" || name == "-h") {
    print_top_help(stdout);
    return 0;
  }
  if (name == "help") {
    if (args.size() < 3) {
      print_top_help(stdout);
      return 0;
    }
    const Command* c = find_command(args[2]);
    if (!c) return print_error("no subcommand '" + args[2] + "'; choose one of: " + command_names());
    std::fputs(command_help(*c).c_str(), stdout);
    return 0;
  }
  const Command* c = find_command(name);
  if (!c) return print_error("unknown subcommand '" + name + "'; choose one of: " + command_names());
  try {
    return run_command(*c, args);
  } catch (const po::error& e) {
    return print_error(describe(e, name));
  } catch (const Error& e) {
    if (std::getenv("PELAB_DEBUG")) std::fprintf(stderr, "%s\n", e.log_text().c_str());
    print_error(e.user_line());
    return kExitFailure;
  } catch (const std::bad_alloc&) {
    print_error("out of memory; try a smaller size (--max-distance, --heads, lengths)");
    return kExitFailure;
  } catch (const std::exception& e) {
    print_error(std::string("unexpected failure: ") + e.what() + "; please report it with the command line");
    return kExitFailure;
  }
}

}  // namespace pelab::cli
