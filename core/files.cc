#include "core/files.h"

#include <sys/file.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace pelab {

namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "host";
  // The name is part of a file name: keep it to safe characters.
  std::string h(buf);
  for (char& c : h)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_')) c = '_';
  return h;
}

const std::string& temp_tag() {
  static const std::string tag = ".tmp-" + host_name() + "-";
  return tag;
}

}  // namespace

std::string temp_path_for(const std::string& path) { return path + temp_tag() + std::to_string(getpid()); }

int remove_stale_temporaries(const std::string& dir, const std::string& target) {
  std::error_code ec;
  int removed = 0;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return 0;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    const size_t at = name.rfind(temp_tag());
    if (at == std::string::npos || at == 0) continue;
    if (!target.empty() && name.compare(0, at, target) != 0) continue;
    const std::string pid_text = name.substr(at + temp_tag().size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
    if (pid <= 0 || pid == getpid()) continue;
    // ESRCH: no such process. EPERM means it exists under another user: keep it.
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

bool sync_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const int rc = fsync(fd);
  const int saved = errno;
  close(fd);
  errno = saved;
  return rc == 0;
}

void write_text_atomic(const std::string& path, const std::string& text) {
  const fs::path p(path);
  remove_stale_temporaries(p.has_parent_path() ? p.parent_path().string() : ".", p.filename().string());
  const std::string tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    const bool ok = out.good();
    out.close();
    if (!ok || !sync_file(tmp)) {
      const std::string why = std::strerror(errno);
      std::error_code ec;
      fs::remove(tmp, ec);
      PELAB_FAIL("cannot write '" << path << "': " << why, "check the free disk space and the folder's permissions");
    }
  }
  if (failpoints_enabled()) failpoint("text:" + p.filename().string() + ":before_rename");
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code rm;
    fs::remove(tmp, rm);
    PELAB_FAIL("cannot rename '" << tmp << "' to '" << path << "': " << ec.message(), "check the folder's permissions");
  }
  if (failpoints_enabled()) failpoint("text:" + p.filename().string() + ":after_rename");
}

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  PELAB_CHECK(in.good(), "cannot read " << what << " '" << path << "' (missing or unreadable)", "check the path");
  std::stringstream ss;
  ss << in.rdbuf();
  PELAB_CHECK(!in.bad(), "cannot read " << what << " '" << path << "'", "check the path and its permissions");
  return ss.str();
}

bool failpoints_enabled() {
  static const bool on = std::getenv("PELAB_FAILPOINT") != nullptr;
  return on;
}

void failpoint(const std::string& name) {
  struct Spec {
    std::string name;
    long nth = 1;
    long hits = 0;
  };
  static Spec spec = [] {
    Spec s;
    if (const char* env = std::getenv("PELAB_FAILPOINT")) {
      std::string v(env);
      const size_t at = v.rfind('@');
      if (at != std::string::npos) {
        s.nth = std::strtol(v.c_str() + at + 1, nullptr, 10);
        v.resize(at);
      }
      s.name = v;
    }
    return s;
  }();
  if (spec.name.empty() || name != spec.name) return;
  if (++spec.hits == spec.nth) raise(SIGKILL);
}

FileLock::FileLock(const std::string& path, bool wait) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    held_ = true;  // best effort: nothing to lock with, nothing to wait for
    return;
  }
  int rc;
  do {
    rc = ::flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  held_ = rc == 0;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the lock
}

}  // namespace pelab
