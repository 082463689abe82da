// Files that survive a crash: every output is written to a temporary name
// beside its target and renamed (rename is atomic within a folder), so a
// reader sees the old file or the new one, never half of one (docs/design.md
// "Failure model").
//
// A temporary is named "<target>.tmp-<host>-<pid>". A writer killed with
// SIGKILL cannot remove its own; the next pelab that opens the folder removes
// those whose writer ran on this host and is gone (remove_stale_temporaries).
//
// Failpoints let the crash tests kill a writer at an exact point:
// PELAB_FAILPOINT="NAME" (or "NAME@K" for the K-th time) makes failpoint(NAME)
// raise SIGKILL. Without the variable a failpoint costs one branch.
#pragma once

#include <string>

namespace pelab {

// "<path>.tmp-<host>-<pid>".
std::string temp_path_for(const std::string& path);

// Removes the temporaries in `dir` (not recursive) left by dead writers on
// this host, all of them or those of one target file name; returns how many
// it removed. Temporaries of live processes and of other hosts (a shared
// cluster folder) are left alone.
int remove_stale_temporaries(const std::string& dir, const std::string& target = "");

// Writes `text` to a temporary, flushes it to disk and renames it to `path`.
void write_text_atomic(const std::string& path, const std::string& text);

// The whole file; pelab::Error naming `what` when it cannot be read.
std::string read_text(const std::string& path, const std::string& what = "file");

// Kills this process with SIGKILL when PELAB_FAILPOINT names `name` (see above).
void failpoint(const std::string& name);
// Whether PELAB_FAILPOINT is set (to skip building names when it is not).
bool failpoints_enabled();

// Flushes a file's data to disk (fsync); false on failure (errno set).
bool sync_file(const std::string& path);

// An advisory lock (flock) on `path`, created if missing, held until this
// object dies. The kernel drops it with its process, so a killed holder leaves
// nothing to clean up. Two writers of one run folder (a training and an
// evaluation, two sweeps sharing runs) take it so that neither loses the
// other's update. Best effort where the lock file cannot be created (a full
// disk): the write that follows reports that problem itself.
class FileLock {
 public:
  // wait: block until free; otherwise held() tells whether it was taken.
  FileLock(const std::string& path, bool wait);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

}  // namespace pelab
