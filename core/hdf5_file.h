// A thin RAII layer over the HDF5 C API, enough for pelab's result files:
// groups, chunked + shuffled + gzip-compressed datasets that plain h5py reads,
// appendable 1-D logs, and scalar / array / variable-length string attributes.
//
// Files are written to a temporary name beside the target and renamed by
// commit(), so a crash or an error never leaves a half-written file under the
// real name (DESIGN.md "Results").
//
// Every file File::create writes is sealed: its first 512 bytes (an HDF5 user
// block, which HDF5, h5py and h5dump skip) hold the file's length and a CRC-32
// of every byte after the block. File::open_read checks the seal before HDF5
// parses anything, so a file whose bytes changed after pelab wrote it
// (truncated, a flipped bit, a partial copy) is refused with one clear error
// instead of being loaded, or handed to a parser that was never meant for
// damaged input.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pelab::h5 {

// Owns one hid_t and closes it with the matching H5*close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  void reset();
  herr_t close();  // like reset(), returning the close function's result
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Element types stored in pelab files. Anything else fails to compile.
template <typename T> hid_t native_type();

class Group {
 public:
  Group() = default;
  Group(Handle h, std::string path, std::string file) : h_(std::move(h)), path_(std::move(path)), file_(std::move(file)) {}

  // Children. create_group makes intermediate groups ("a/b/c").
  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  Group require_group(const std::string& name);  // open, or create when absent
  bool has(const std::string& name) const;
  std::vector<std::string> children() const;  // names of direct members, sorted

  // Datasets: dims is the shape, row-major; chunked, shuffled, gzip level 4.
  template <typename T> void write(const std::string& name, const T* data, const std::vector<uint64_t>& dims);
  template <typename T> void write(const std::string& name, const std::vector<T>& v) {
    write(name, v.data(), {static_cast<uint64_t>(v.size())});
  }
  // Reads a whole dataset of any stored numeric type, converted to T.
  template <typename T> std::vector<T> read(const std::string& name, std::vector<uint64_t>* dims = nullptr) const;
  std::vector<uint64_t> shape(const std::string& name) const;

  // Appendable 1-D dataset (maxdims unlimited, chunks of 1024): created on first use.
  template <typename T> void append(const std::string& name, const T* data, uint64_t n);
  template <typename T> void append(const std::string& name, T value) { append(name, &value, 1); }

  // Copies member `name` of `src` (a group with everything below it, or a
  // dataset, attributes included) into this group under the same name.
  void copy_member(const Group& src, const std::string& name);
  // Copies every attribute of `src` onto this group (replacing same names).
  void copy_attrs(const Group& src);

  // Attributes on this group; setting an existing name replaces it.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, const char* value) { set_attr(name, std::string(value)); }
  void set_attr(const std::string& name, double value);
  void set_attr(const std::string& name, int64_t value);
  void set_attr(const std::string& name, int value) { set_attr(name, static_cast<int64_t>(value)); }
  void set_attr(const std::string& name, const std::vector<double>& value);
  void set_attr(const std::string& name, const std::vector<int64_t>& value);
  bool has_attr(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  double attr_double(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  std::vector<double> attr_doubles(const std::string& name) const;

  hid_t id() const { return h_.get(); }
  const std::string& path() const { return path_; }

 protected:
  [[noreturn]] void fail(const std::string& what, const std::string& name) const;
  std::string child_path(const std::string& name) const;
  Handle open_attr_for_write(const std::string& name, hid_t type, hid_t space);

  Handle h_;
  std::string path_;  // path of this group inside the file, "/" for the root
  std::string file_;  // file name, for messages
};

class File : public Group {
 public:
  // Creates `path` atomically: data goes to a temporary sibling until commit().
  static File create(const std::string& path);
  // Opens an existing file read-only after checking its seal; a missing,
  // unsealed, damaged or non-HDF5 file is a clear error.
  static File open_read(const std::string& path);

  File() = default;
  File(File&& o) noexcept;
  File& operator=(File&& o) noexcept;
  ~File();

  // Flushes, closes and renames the temporary to the real name.
  void commit();
  const std::string& temp_path() const { return temp_; }

 private:
  std::string final_;  // target name
  std::string temp_;   // where writes go until commit(); empty for read-only files
};

// Quiets the HDF5 library's own error stack printing (pelab reports errors itself).
void silence_library_errors();

// The seal (see the top of this file). seal_file writes it into a closed HDF5
// file created with a 512-byte user block; check_seal returns "" for a good
// seal, else what is wrong ("no pelab seal", "truncated: ...", "checksum ...").
inline constexpr uint64_t kSealBytes = 512;
void seal_file(const std::string& path);
std::string check_seal(const std::string& path);

// The system's reason for the last failed HDF5 call on this thread ("No space
// left on device"), read from HDF5's error stack; "" when it gives none.
std::string last_error_cause();

// True when `path` can be created: its folder exists and is writable.
void check_writable_target(const std::string& path, const std::string& option);

}  // namespace pelab::h5
