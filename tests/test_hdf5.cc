#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/provenance.h"

namespace pelab {
namespace fs = std::filesystem;

class Hdf5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pelab_h5_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  size_t files_in_dir() const { return std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}); }
  fs::path dir_;
};

TEST_F(Hdf5Test, RoundTripsDatasetsAndAttributes) {
  std::vector<double> a{1.5, -2.25, 3e300};
  std::vector<int64_t> b{0, -1, 1LL << 40};
  std::vector<float> m(6);
  for (int i = 0; i < 6; ++i) m[i] = 0.5f * i;
  {
    h5::File f = h5::File::create(path("x.h5"));
    write_provenance(f, {"test", "pelab test --x", "[pe]\nbase = 10000\n"});
    h5::Group g = f.create_group("runs/one");
    g.write("a", a);
    g.write("b", b);
    g.write("m", m.data(), {2, 3});
    g.write("empty", std::vector<double>{});
    g.set_attr("name", "ünïcode");
    g.set_attr("x", 0.125);
    g.set_attr("n", int64_t{-7});
    g.set_attr("v", std::vector<double>{1, 2, 3});
    g.set_attr("x", 0.25);  // replacing an attribute is allowed
    f.commit();
  }
  h5::File f = h5::File::open_read(path("x.h5"));
  EXPECT_EQ(f.attr_int("schema_version"), kSchemaVersion);
  EXPECT_EQ(f.attr_string("command"), "test");
  EXPECT_EQ(f.attr_string("config_ini"), "[pe]\nbase = 10000\n");
  h5::Group g = f.open_group("runs/one");
  EXPECT_EQ(g.read<double>("a"), a);
  EXPECT_EQ(g.read<int64_t>("b"), b);
  std::vector<uint64_t> dims;
  EXPECT_EQ(g.read<float>("m", &dims), m);
  EXPECT_EQ(dims, (std::vector<uint64_t>{2, 3}));
  EXPECT_TRUE(g.read<double>("empty").empty());
  EXPECT_EQ(g.attr_string("name"), "ünïcode");
  EXPECT_EQ(g.attr_double("x"), 0.25);
  EXPECT_EQ(g.attr_int("n"), -7);
  EXPECT_EQ(g.attr_doubles("v"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(f.children(), (std::vector<std::string>{"runs"}));
  EXPECT_TRUE(f.has("runs/one/a"));
  EXPECT_FALSE(f.has("runs/two/a"));
  EXPECT_THROW(f.open_group("nope"), Error);
  EXPECT_THROW(g.read<double>("nope"), Error);
  EXPECT_THROW(g.attr_double("nope"), Error);
}

TEST_F(Hdf5Test, AppendGrowsOneDimensionalLogs) {
  {
    h5::File f = h5::File::create(path("log.h5"));
    h5::Group t = f.create_group("train");
    for (int64_t s = 0; s < 2500; ++s) t.append("step", s);
    std::vector<float> chunk{1.f, 2.f, 3.f};
    t.append("loss", chunk.data(), chunk.size());
    t.append("loss", chunk.data(), chunk.size());
    f.commit();
  }
  h5::File f = h5::File::open_read(path("log.h5"));
  auto steps = f.open_group("train").read<int64_t>("step");
  ASSERT_EQ(steps.size(), 2500u);
  EXPECT_EQ(steps[2499], 2499);
  EXPECT_EQ(f.open_group("train").read<float>("loss"), (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

TEST_F(Hdf5Test, UncommittedFileLeavesNothingAndKeepsTheOldOne) {
  {
    h5::File f = h5::File::create(path("keep.h5"));
    f.set_attr("version", int64_t{1});
    f.commit();
  }
  {
    h5::File f = h5::File::create(path("keep.h5"));
    f.set_attr("version", int64_t{2});
    EXPECT_TRUE(fs::exists(f.temp_path()));
    // destroyed without commit(), as when an exception unwinds
  }
  EXPECT_EQ(files_in_dir(), 1u);
  EXPECT_EQ(h5::File::open_read(path("keep.h5")).attr_int("version"), 1);
}

TEST_F(Hdf5Test, MissingCorruptAndTruncatedFilesAreClearErrors) {
  EXPECT_THROW(h5::File::open_read(path("absent.h5")), Error);
  { std::ofstream(path("junk.h5")) << "this is not HDF5"; }
  EXPECT_THROW(h5::File::open_read(path("junk.h5")), Error);
  {
    h5::File f = h5::File::create(path("full.h5"));
    f.write("x", std::vector<double>(100000, 1.0));
    f.commit();
  }
  fs::resize_file(path("full.h5"), fs::file_size(path("full.h5")) / 2);
  bool failed = false;
  try {
    h5::File f = h5::File::open_read(path("full.h5"));
    f.read<double>("x");
  } catch (const Error& e) {
    failed = true;
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_TRUE(failed);
}

TEST_F(Hdf5Test, UnwritableTargetsAreRejectedBeforeWriting) {
  EXPECT_THROW(h5::File::create(path("no/such/folder/x.h5")), Error);
  EXPECT_THROW(h5::File::create(dir_.string()), Error);  // a folder
  EXPECT_EQ(files_in_dir(), 0u);
}

}  // namespace pelab
