#include "core/hdf5_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/files.h"

namespace pelab::h5 {

namespace fs = std::filesystem;

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() { (void)close(); }

herr_t Handle::close() {
  const herr_t rc = (id_ >= 0 && close_) ? close_(id_) : 0;
  id_ = H5I_INVALID_HID;
  return rc;
}

template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<uint16_t>() { return H5T_NATIVE_UINT16; }
template <> hid_t native_type<uint32_t>() { return H5T_NATIVE_UINT32; }
template <> hid_t native_type<uint64_t>() { return H5T_NATIVE_UINT64; }

void silence_library_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

void check_writable_target(const std::string& path, const std::string& option) {
  PELAB_CHECK(!path.empty(), option << " is empty", "give a file name, e.g. " << option << " result.h5");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  PELAB_CHECK(fs::is_directory(dir, ec), "cannot write " << option << " '" << path << "': folder '" << dir.string() << "' does not exist",
              "create the folder first or choose another path");
  PELAB_CHECK(access(dir.c_str(), W_OK) == 0, "cannot write " << option << " '" << path << "': folder '" << dir.string() << "' is not writable",
              "choose a path in a folder you can write to");
  PELAB_CHECK(!fs::is_directory(path, ec), "cannot write " << option << " '" << path << "': it is a folder", "give a file name");
}

namespace {

// What a user can do about a system error, or "" when it is not one of these.
std::string hint_for_cause(const std::string& cause) {
  if (cause == std::strerror(ENOSPC) || cause == std::strerror(EDQUOT))
    return "free some disk space, or write to another folder";
  if (cause == std::strerror(EFBIG)) return "the file size limit (ulimit -f) or the file system's maximum was reached";
  if (cause == std::strerror(EACCES) || cause == std::strerror(EROFS)) return "choose a folder you can write to";
  if (cause == std::strerror(EIO)) return "the disk reported an I/O error; check it and retry";
  return {};
}

}  // namespace

std::string last_error_cause() {
  // HDF5's sec2 driver reports "..., errno = 28, error message = 'No space left
  // on device', ..." in the description of the failed read or write.
  std::string cause;
  auto cb = [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
    std::string& c = *static_cast<std::string*>(out);
    if (!c.empty() || !e->desc) return 0;
    const std::string d(e->desc);
    const std::string key = "error message = '";
    const size_t at = d.find(key);
    if (at != std::string::npos) {
      const size_t end = d.find('\'', at + key.size());
      if (end != std::string::npos) c = d.substr(at + key.size(), end - at - key.size());
    }
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, cb, &cause);
  return cause;
}

void Group::fail(const std::string& what, const std::string& name) const {
  const std::string cause = last_error_cause();
  const std::string hint = hint_for_cause(cause);
  if (!hint.empty()) throw Error("cannot " + what + " '" + child_path(name) + "' in " + file_ + ": " + cause, hint);
  throw Error("HDF5: cannot " + what + " '" + child_path(name) + "' in " + file_ + (cause.empty() ? "" : ": " + cause),
              "the file may be damaged, or not a pelab result file");
}

std::string Group::child_path(const std::string& name) const {
  if (name.empty()) return path_;
  return path_ == "/" ? "/" + name : path_ + "/" + name;
}

Group Group::create_group(const std::string& name) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  // Track creation order so h5py lists variants in the order they were written.
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t g = H5Gcreate2(h_.get(), name.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT);
  if (g < 0) fail("create group", name);
  return Group(Handle(g, H5Gclose), child_path(name), file_);
}

Group Group::open_group(const std::string& name) const {
  if (!has(name)) throw Error("HDF5: " + file_ + " has no group '" + child_path(name) + "'", "is this the right file?");
  hid_t g = H5Gopen2(h_.get(), name.c_str(), H5P_DEFAULT);
  if (g < 0) fail("open group", name);
  return Group(Handle(g, H5Gclose), child_path(name), file_);
}

Group Group::require_group(const std::string& name) { return has(name) ? open_group(name) : create_group(name); }

bool Group::has(const std::string& name) const {
  // Check each path component: H5Lexists fails on a missing intermediate.
  std::string prefix;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    prefix += (prefix.empty() ? "" : "/") + part;
    if (H5Lexists(h_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* n, const H5L_info_t*, void* op) -> herr_t {
    static_cast<std::vector<std::string>*>(op)->push_back(n);
    return 0;
  };
  if (H5Literate(h_.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names) < 0) fail("list members of", "");
  return names;
}

namespace {

// Chunk shape: the dataset's shape with the largest dimension halved until a
// chunk holds at most 64 Ki elements (256-512 KB): big enough for gzip to work,
// small enough that h5py reading a slice does not inflate the whole dataset.
std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& dims) {
  std::vector<hsize_t> c = dims;
  for (auto& x : c) x = std::max<hsize_t>(x, 1);
  auto total = [&] {
    hsize_t t = 1;
    for (auto x : c) t *= x;
    return t;
  };
  while (total() > (1u << 16)) {
    auto it = std::max_element(c.begin(), c.end());
    *it = (*it + 1) / 2;
  }
  return c;
}

}  // namespace

template <typename T>
void Group::write(const std::string& name, const T* data, const std::vector<uint64_t>& dims_in) {
  std::vector<hsize_t> dims(dims_in.begin(), dims_in.end());
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  if (has(name)) H5Ldelete(h_.get(), name.c_str(), H5P_DEFAULT);
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (total > 0) {
    auto chunk = chunk_shape(dims);
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), 4);
  }
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle ds(H5Dcreate2(h_.get(), name.c_str(), native_type<T>(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail("create dataset", name);
  if (total > 0 && H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) fail("write dataset", name);
  if (failpoints_enabled()) failpoint("h5write:" + fs::path(file_).filename().string() + ":" + child_path(name));
}

std::vector<uint64_t> Group::shape(const std::string& name) const {
  if (!has(name)) throw Error("HDF5: " + file_ + " has no dataset '" + child_path(name) + "'", "is this the right file?");
  Handle ds(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail("open dataset", name);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("read the shape of", name);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<uint64_t>(dims.begin(), dims.end());
}

template <typename T>
std::vector<T> Group::read(const std::string& name, std::vector<uint64_t>* dims_out) const {
  auto dims = shape(name);
  uint64_t total = 1;
  for (auto d : dims) total *= d;
  std::vector<T> out(total);
  Handle ds(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (total > 0 && H5Dread(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    fail("read dataset", name);
  if (dims_out) *dims_out = dims;
  return out;
}

template <typename T>
void Group::append(const std::string& name, const T* data, uint64_t n) {
  if (!has(name)) {
    hsize_t zero = 0, unlimited = H5S_UNLIMITED, chunk = 1024;
    Handle space(H5Screate_simple(1, &zero, &unlimited), H5Sclose);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl.get(), 1, &chunk);
    H5Pset_deflate(dcpl.get(), 4);
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle ds(H5Dcreate2(h_.get(), name.c_str(), native_type<T>(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT), H5Dclose);
    if (!ds.valid()) fail("create appendable dataset", name);
  }
  if (n == 0) return;
  Handle ds(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) fail("open dataset", name);
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) fail("append to (not 1-D)", name);
  hsize_t old = 0;
  H5Sget_simple_extent_dims(space.get(), &old, nullptr);
  hsize_t grown = old + n;
  if (H5Dset_extent(ds.get(), &grown) < 0) fail("extend dataset", name);
  Handle fspace(H5Dget_space(ds.get()), H5Sclose);
  hsize_t count = n;
  H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &old, nullptr, &count, nullptr);
  Handle mspace(H5Screate_simple(1, &count, nullptr), H5Sclose);
  if (H5Dwrite(ds.get(), native_type<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, data) < 0) fail("append to dataset", name);
}

#define PELAB_H5_INSTANTIATE(T)                                                                 \
  template void Group::write<T>(const std::string&, const T*, const std::vector<uint64_t>&);   \
  template std::vector<T> Group::read<T>(const std::string&, std::vector<uint64_t>*) const;     \
  template void Group::append<T>(const std::string&, const T*, uint64_t);
PELAB_H5_INSTANTIATE(double)
PELAB_H5_INSTANTIATE(float)
PELAB_H5_INSTANTIATE(int64_t)
PELAB_H5_INSTANTIATE(int32_t)
PELAB_H5_INSTANTIATE(uint8_t)
PELAB_H5_INSTANTIATE(uint16_t)
PELAB_H5_INSTANTIATE(uint32_t)
PELAB_H5_INSTANTIATE(uint64_t)
#undef PELAB_H5_INSTANTIATE

void Group::copy_member(const Group& src, const std::string& name) {
  if (!src.has(name)) throw Error("HDF5: " + src.file_ + " has no '" + src.child_path(name) + "'", "is this the right file?");
  if (H5Ocopy(src.id(), name.c_str(), h_.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0) fail("copy", name);
}

void Group::copy_attrs(const Group& src) {
  struct Ctx {
    Group* dst;
    std::string failed;
  } ctx{this, {}};
  auto cb = [](hid_t loc, const char* name, const H5A_info_t*, void* op) -> herr_t {
    Ctx& c = *static_cast<Ctx*>(op);
    Handle a(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
    Handle type(a.valid() ? H5Aget_type(a.get()) : H5I_INVALID_HID, H5Tclose);
    Handle space(a.valid() ? H5Aget_space(a.get()) : H5I_INVALID_HID, H5Sclose);
    if (!type.valid() || !space.valid()) {
      c.failed = name;
      return -1;
    }
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    const size_t size = H5Tget_size(type.get());
    std::vector<unsigned char> buf(static_cast<size_t>(std::max<hssize_t>(n, 1)) * std::max<size_t>(size, 1));
    // Read and write in the file's own type: variable-length strings come
    // back as pointers that the write takes as they are.
    if (H5Aread(a.get(), type.get(), buf.data()) < 0) {
      c.failed = name;
      return -1;
    }
    if (H5Aexists(c.dst->id(), name) > 0) H5Adelete(c.dst->id(), name);
    Handle out(H5Acreate2(c.dst->id(), name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const bool ok = out.valid() && H5Awrite(out.get(), type.get(), buf.data()) >= 0;
    if (H5Tdetect_class(type.get(), H5T_VLEN) > 0 || H5Tis_variable_str(type.get()) > 0)
      H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, buf.data());
    if (!ok) {
      c.failed = name;
      return -1;
    }
    return 0;
  };
  hsize_t idx = 0;
  if (H5Aiterate2(src.id(), H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &ctx) < 0)
    fail("copy attribute '" + ctx.failed + "' to", "");
}

// ---- attributes -------------------------------------------------------------

Handle Group::open_attr_for_write(const std::string& name, hid_t type, hid_t space) {
  if (H5Aexists(h_.get(), name.c_str()) > 0) H5Adelete(h_.get(), name.c_str());
  Handle a(H5Acreate2(h_.get(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail("create attribute '" + name + "' on", "");
  return a;
}

void Group::set_attr(const std::string& name, const std::string& value) {
  // Variable-length UTF-8 strings: h5py returns them as str, not bytes.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = open_attr_for_write(name, type.get(), space.get());
  const char* p = value.c_str();
  if (H5Awrite(a.get(), type.get(), &p) < 0) fail("write attribute '" + name + "' on", "");
}

void Group::set_attr(const std::string& name, double value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = open_attr_for_write(name, H5T_NATIVE_DOUBLE, space.get());
  if (H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value) < 0) fail("write attribute '" + name + "' on", "");
}

void Group::set_attr(const std::string& name, int64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = open_attr_for_write(name, H5T_NATIVE_INT64, space.get());
  if (H5Awrite(a.get(), H5T_NATIVE_INT64, &value) < 0) fail("write attribute '" + name + "' on", "");
}

void Group::set_attr(const std::string& name, const std::vector<double>& value) {
  hsize_t n = value.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a = open_attr_for_write(name, H5T_NATIVE_DOUBLE, space.get());
  if (n && H5Awrite(a.get(), H5T_NATIVE_DOUBLE, value.data()) < 0) fail("write attribute '" + name + "' on", "");
}

void Group::set_attr(const std::string& name, const std::vector<int64_t>& value) {
  hsize_t n = value.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle a = open_attr_for_write(name, H5T_NATIVE_INT64, space.get());
  if (n && H5Awrite(a.get(), H5T_NATIVE_INT64, value.data()) < 0) fail("write attribute '" + name + "' on", "");
}

bool Group::has_attr(const std::string& name) const { return H5Aexists(h_.get(), name.c_str()) > 0; }

namespace {
Handle open_attr(const Group& g, const std::string& name, const std::string& file) {
  if (!g.has_attr(name))
    throw Error("HDF5: " + file + " has no attribute '" + name + "' on '" + g.path() + "'", "is this the right file?");
  return Handle(H5Aopen(g.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
}

// A scalar read must find one value: reading an array attribute into one
// variable would write past it.
Handle open_scalar_attr(const Group& g, const std::string& name, const std::string& file) {
  Handle a = open_attr(g, name, file);
  Handle space(a.valid() ? H5Aget_space(a.get()) : H5I_INVALID_HID, H5Sclose);
  if (!space.valid() || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error("HDF5: attribute '" + name + "' on '" + g.path() + "' in " + file + " is not a single value",
                "the file may be damaged, or not a pelab result file");
  return a;
}
}  // namespace

std::string Group::attr_string(const std::string& name) const {
  Handle a = open_scalar_attr(*this, name, file_);
  Handle ftype(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING) fail("read string attribute '" + name + "' of", "");
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));  // HDF5 1.10 will not convert between csets
    char* p = nullptr;
    if (H5Aread(a.get(), mtype.get(), &p) < 0) fail("read attribute '" + name + "' of", "");
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(ftype.get());
  std::string s(n, '\0');
  if (H5Aread(a.get(), ftype.get(), s.data()) < 0) fail("read attribute '" + name + "' of", "");
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  return s;
}

double Group::attr_double(const std::string& name) const {
  Handle a = open_scalar_attr(*this, name, file_);
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail("read attribute '" + name + "' of", "");
  return v;
}

int64_t Group::attr_int(const std::string& name) const {
  Handle a = open_scalar_attr(*this, name, file_);
  int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) fail("read attribute '" + name + "' of", "");
  return v;
}

std::vector<double> Group::attr_doubles(const std::string& name) const {
  Handle a = open_attr(*this, name, file_);
  Handle space(H5Aget_space(a.get()), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<double> v(std::max<hssize_t>(n, 0));
  if (n > 0 && H5Aread(a.get(), H5T_NATIVE_DOUBLE, v.data()) < 0) fail("read attribute '" + name + "' of", "");
  return v;
}

// ---- files ------------------------------------------------------------------

namespace {
// Closing the file closes every object still open in it, so commit() really
// releases the file (and its lock) even if a Group handle is still alive: the
// plot script opens the file right after.
Handle strong_close_fapl() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  return fapl;
}
}  // namespace

File File::create(const std::string& path) {
  silence_library_errors();
  check_writable_target(path, "output");
  File f;
  f.final_ = path;
  {
    const fs::path target(path);
    remove_stale_temporaries(target.has_parent_path() ? target.parent_path().string() : ".", target.filename().string());
  }
  f.temp_ = temp_path_for(path);
  // Link creation order on the root too, so top-level groups keep write order.
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5Pset_userblock(fcpl.get(), kSealBytes);  // room for the seal
  hid_t id = H5Fcreate(f.temp_.c_str(), H5F_ACC_TRUNC, fcpl.get(), strong_close_fapl().get());
  if (id < 0) {
    const std::string cause = last_error_cause();
    std::remove(f.temp_.c_str());
    throw Error("cannot create HDF5 file '" + path + "'" + (cause.empty() ? "" : ": " + cause),
                "check the path and the free disk space");
  }
  f.h_ = Handle(id, H5Fclose);
  f.path_ = "/";
  f.file_ = path;
  return f;
}

File File::open_read(const std::string& path) {
  silence_library_errors();
  std::error_code ec;
  PELAB_CHECK(fs::exists(path, ec), "file '" << path << "' does not exist", "check the path");
  PELAB_CHECK(!fs::is_directory(path, ec), "'" << path << "' is a folder, not a file", "check the path");
  const std::string bad = check_seal(path);
  PELAB_CHECK(bad.empty(), "'" << path << "' is damaged or not written by this pelab: " << bad,
              "regenerate it (or restore a copy); pelab refuses files whose bytes changed after it wrote them");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, strong_close_fapl().get());
  PELAB_CHECK(id >= 0, "cannot open '" << path << "' as HDF5: the file is truncated, corrupt or not HDF5",
              "regenerate it, or pass a file that pelab wrote");
  File f;
  f.h_ = Handle(id, H5Fclose);
  f.path_ = "/";
  f.file_ = path;
  return f;
}

File::File(File&& o) noexcept : Group(std::move(o)), final_(std::move(o.final_)), temp_(std::move(o.temp_)) {
  o.final_.clear();
  o.temp_.clear();
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    bool uncommitted = h_.valid() && !temp_.empty();
    h_.reset();
    if (uncommitted) std::remove(temp_.c_str());
    Group::operator=(std::move(o));
    final_ = std::move(o.final_);
    temp_ = std::move(o.temp_);
    o.final_.clear();
    o.temp_.clear();
  }
  return *this;
}

File::~File() {
  bool uncommitted = h_.valid() && !temp_.empty();
  h_.reset();
  if (uncommitted) std::remove(temp_.c_str());  // never leave a partial file behind
}

void File::commit() {
  PELAB_CHECK(h_.valid() && !temp_.empty(), "HDF5: commit() on a file not opened for writing", "this is a bug in pelab");
  const std::string point = failpoints_enabled() ? "commit:" + fs::path(final_).filename().string() : "";
  if (!point.empty()) failpoint(point + ":before_flush");
  if (H5Fflush(h_.get(), H5F_SCOPE_GLOBAL) < 0) fail("flush", "");
  const bool closed = h_.close() >= 0;
  try {
    if (!closed) fail("close", "");
    seal_file(temp_);
  } catch (...) {
    std::remove(temp_.c_str());
    temp_.clear();
    throw;
  }
  if (!point.empty()) failpoint(point + ":before_rename");
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) {
    std::string msg = "cannot rename '" + temp_ + "' to '" + final_ + "': " + ec.message();
    std::remove(temp_.c_str());
    temp_.clear();
    throw Error(msg, "check the folder's permissions");
  }
  temp_.clear();
  if (!point.empty()) failpoint(point + ":after_rename");
}

// ---- seal ---------------------------------------------------------------------

namespace {

constexpr const char* kSealMagic = "PELAB-SEAL 1\n";

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// CRC-32 (zlib) of bytes [from, size) of an open file.
bool crc_from(int fd, uint64_t from, uint64_t size, uint32_t& crc_out) {
  std::vector<unsigned char> buf(1 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t pos = from;
  while (pos < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - pos));
    const ssize_t got = pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (got <= 0) return false;
    crc = crc32(crc, buf.data(), static_cast<uInt>(got));
    pos += static_cast<uint64_t>(got);
  }
  crc_out = static_cast<uint32_t>(crc);
  return true;
}

}  // namespace

void seal_file(const std::string& path) {
  Fd f;
  f.fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  struct stat st {};
  auto sys_fail = [&](const char* what) {
    const std::string cause = std::strerror(errno);
    std::string hint = hint_for_cause(cause);
    throw Error(std::string("cannot ") + what + " '" + path + "': " + cause,
                hint.empty() ? "check the disk and the folder's permissions" : hint);
  };
  if (f.fd < 0) sys_fail("open for sealing");
  if (fstat(f.fd, &st) != 0) sys_fail("stat");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  PELAB_CHECK(size >= kSealBytes, "cannot seal '" << path << "': it has no user block", "this is a bug in pelab");
  uint32_t crc = 0;
  if (!crc_from(f.fd, kSealBytes, size, crc)) sys_fail("read back");
  char block[kSealBytes] = {0};
  std::snprintf(block, sizeof block, "%sbytes %" PRIu64 "\ncrc32 %08" PRIx32 "\n", kSealMagic, size, crc);
  if (pwrite(f.fd, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block)) sys_fail("write the seal of");
  if (fsync(f.fd) != 0) sys_fail("flush");
}

std::string check_seal(const std::string& path) {
  Fd f;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return std::string("cannot open it: ") + std::strerror(errno);
  struct stat st {};
  if (fstat(f.fd, &st) != 0) return std::string("cannot stat it: ") + std::strerror(errno);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  char block[kSealBytes + 1] = {0};
  const ssize_t got = size >= kSealBytes ? pread(f.fd, block, kSealBytes, 0) : -1;
  const size_t magic_len = std::strlen(kSealMagic);
  if (got != static_cast<ssize_t>(kSealBytes) || std::strncmp(block, kSealMagic, magic_len) != 0)
    return "it has no pelab seal (" + std::to_string(size) +
           " bytes; not an HDF5 file pelab wrote, or one from a pelab older than schema 2)";
  uint64_t want_size = 0;
  uint32_t want_crc = 0;
  if (std::sscanf(block + magic_len, "bytes %" SCNu64 "\ncrc32 %" SCNx32, &want_size, &want_crc) != 2)
    return "its seal is unreadable";
  if (size != want_size)
    return "it is " + std::to_string(size) + " bytes long, but was written with " + std::to_string(want_size) +
           (size < want_size ? " (truncated)" : " (appended to)");
  uint32_t crc = 0;
  if (!crc_from(f.fd, kSealBytes, size, crc)) return std::string("cannot read it: ") + std::strerror(errno);
  if (crc != want_crc) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "its CRC-32 is %08" PRIx32 ", but was %08" PRIx32 " when written", crc, want_crc);
    return buf;
  }
  return {};
}

}  // namespace pelab::h5
