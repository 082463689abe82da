#include "core/provenance.h"

#include <ctime>

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

void write_provenance(h5::Group& g, const Provenance& p) {
  g.set_attr("schema_version", kSchemaVersion);
  g.set_attr("pelab_version", PELAB_VERSION);
  g.set_attr("git_revision", PELAB_GIT_REVISION);
  g.set_attr("created_utc", utc_timestamp());
  g.set_attr("command", p.command);
  g.set_attr("command_line", p.command_line);
  g.set_attr("config_ini", p.config_ini);
}

}  // namespace pelab
