#include "core/provenance.h"

#include <ctime>
#include <fstream>

#include "build_info.h"

namespace pelab {

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_cpu() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  return "unknown";
}

std::string kernel_path() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2+fma";
#else
  return "scalar";
#endif
}

void write_provenance(h5::Group& g, const Provenance& p) {
  g.set_attr("schema_version", kSchemaVersion);
  g.set_attr("pelab_version", PELAB_VERSION);
  g.set_attr("git_revision", PELAB_GIT_REVISION);
  g.set_attr("created_utc", utc_timestamp());
  g.set_attr("command", p.command);
  g.set_attr("command_line", p.command_line);
  g.set_attr("config_ini", p.config_ini);
  g.set_attr("host_cpu", host_cpu());
  g.set_attr("kernel_path", kernel_path());
}

}  // namespace pelab
