#include "experiments/cli.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace pelab::cli {

Context::Context(std::vector<std::string> argv, po::variables_map vm, const po::options_description* desc)
    : argv_(std::move(argv)), vm_(std::move(vm)), desc_(desc) {}

bool Context::has(const std::string& key) const { return vm_.count(key) > 0; }

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

std::string Context::command_line() const { return join(argv_, " "); }

std::string Context::resolved_ini() const {
  std::vector<std::string> global;
  std::map<std::string, std::vector<std::string>> sections;
  for (const auto& opt : desc_->options()) {
    const std::string& name = opt->long_name();
    if (name == "config" || name == "help" || !vm_.count(name)) continue;
    const auto& v = vm_[name].value();
    std::string value;
    if (auto* s = boost::any_cast<std::string>(&v)) value = *s;
    else if (auto* b = boost::any_cast<bool>(&v)) value = *b ? "true" : "false";
    else continue;
    size_t dot = name.find('.');
    if (dot == std::string::npos) global.push_back(name + " = " + value);
    else sections[name.substr(0, dot)].push_back(name.substr(dot + 1) + " = " + value);
  }
  std::string ini = "# resolved by pelab " + (argv_.size() > 1 ? argv_[1] : std::string()) + "\n";
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

// The options a command takes: common, its own, then its groups.
void build_description(const Command& c, po::options_description& all, std::vector<po::options_description>& parts) {
  parts.emplace_back("Common options");
  parts.back().add_options()
      ("help,h", po::bool_switch(), "show this help")
      ("config", po::value<std::string>(), "INI file with defaults; the command line overrides it");
  if (c.add_options) {
    parts.emplace_back("Options of 'pelab " + c.name + "'");
    auto init = parts.back().add_options();
    c.add_options(init);
  }
  for (const auto& prefix : c.groups)
    for (const auto& g : option_groups())
      if (g.prefix == prefix) {
        parts.emplace_back(g.title + " (--" + g.prefix + ".*, INI section [" + g.prefix + "])");
        auto init = parts.back().add_options();
        g.add(init);
      }
  for (const auto& p : parts) all.add(p);
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
  po::options_description all;
  std::vector<po::options_description> parts;
  build_description(c, all, parts);

  // A positional argument (e.g. the topic of `pelab bench attention`) is a
  // hidden option: parsed and resolved like the others, not listed in help.
  po::positional_options_description positional;
  if (!c.positional.empty()) {
    po::options_description hidden;
    hidden.add_options()(c.positional.c_str(), po::value<std::string>(), c.positional.c_str());
    all.add(hidden);
    positional.add(c.positional.c_str(), 1);
  }

  po::variables_map vm;
  // The first store() wins: command line first, then the file fills the rest.
  std::vector<std::string> rest(args.begin() + 2, args.end());
  po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
  if (vm.count("config")) {
    const std::string path = vm["config"].as<std::string>();
    std::ifstream in(path);
    PELAB_CHECK(in.good(), "config file '" << path << "' cannot be opened (missing or unreadable)", "check the path given to --config");
    try {
      po::store(po::parse_config_file(in, all), vm);
    } catch (const po::error& e) {
      throw Error("in config file '" + path + "': " + describe(e, c.name));
    }
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

std::string command_help(const Command& c) {
  po::options_description all;
  std::vector<po::options_description> parts;
  build_description(c, all, parts);
  std::ostringstream os;
  os << c.usage << "\n\n" << all << "\n";
  return os.str();
}

int main(int argc, char** argv) {
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
