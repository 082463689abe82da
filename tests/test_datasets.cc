// datasets/: corpus recipes, the document split, dataset.h5 round trip and
// damage detection, the training batcher (determinism, exact resume) and the
// evaluation windows. The KJV and GCIDE tests skip when their Debian packages
// are absent (bash scripts/install-deps installs them).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "datasets/batcher.h"
#include "datasets/corpus.h"
#include "datasets/dataset.h"
#include "datasets/dedup.h"

namespace pelab::data {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder per test, removed afterwards.
class TempFolder {
 public:
  TempFolder() {
    path_ = fs::temp_directory_path() / ("pelab_datasets_" + std::to_string(getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempFolder() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

// Runs f and returns the pelab::Error's one-line text ("" if nothing was thrown).
template <typename F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.user_line();
  }
  return "";
}

Corpus toy_corpus(int docs, uint64_t seed = 7) {
  Corpus c;
  c.name = "path";
  c.source = "toy";
  c.recipe = "toy documents";
  Rng rng(seed);
  for (int i = 0; i < docs; ++i) {
    Document d;
    d.name = "doc" + std::to_string(i);
    const int64_t n = rng.uniform_int(50, 2000);
    for (int64_t j = 0; j < n; ++j) d.text += static_cast<char>(rng.below(256));
    c.docs.push_back(std::move(d));
  }
  return c;
}

std::vector<int64_t> sizes_of(const Corpus& c) {
  std::vector<int64_t> s;
  for (const auto& d : c.docs) s.push_back(static_cast<int64_t>(d.text.size()));
  return s;
}

// ---- the split ---------------------------------------------------------------

TEST(DataSplit, DeterministicGivenTheSeed) {
  const auto sizes = sizes_of(toy_corpus(200));
  SplitOptions opt;
  opt.seed = 42;
  EXPECT_EQ(split_documents(sizes, opt), split_documents(sizes, opt));
  SplitOptions other = opt;
  other.seed = 43;
  EXPECT_NE(split_documents(sizes, opt), split_documents(sizes, other));
}

TEST(DataSplit, DisjointCompleteAndNearTheFractions) {
  const Corpus c = toy_corpus(300);
  SplitOptions opt;
  opt.val_fraction = 0.1;
  opt.test_fraction = 0.2;
  const Dataset ds = make_dataset(c, opt);
  std::set<std::string> seen;
  for (const Split* s : {&ds.train, &ds.val, &ds.test}) {
    EXPECT_GE(s->num_docs(), 1);
    for (const auto& n : s->names) EXPECT_TRUE(seen.insert(n).second) << n << " in two splits";
  }
  EXPECT_EQ(seen.size(), c.docs.size());
  int64_t total = 0;
  for (const auto& d : c.docs) total += static_cast<int64_t>(d.text.size());
  EXPECT_EQ(ds.num_tokens(), total);
  // Each evaluation split reaches its share, overshooting by at most one document.
  EXPECT_GE(ds.test.num_tokens(), 0.2 * total);
  EXPECT_LT(ds.test.num_tokens(), 0.2 * total + 2000);
  EXPECT_GE(ds.val.num_tokens(), 0.1 * total);
  EXPECT_LT(ds.val.num_tokens(), 0.1 * total + 2000);
  // Corpus order inside a split, and each document's bytes intact.
  std::map<std::string, const Document*> by_name;
  for (const auto& d : c.docs) by_name[d.name] = &d;
  for (const Split* s : {&ds.train, &ds.val, &ds.test}) {
    for (int64_t i = 0; i < s->num_docs(); ++i) {
      const auto doc = s->doc(i);
      EXPECT_EQ(std::string(doc.begin(), doc.end()), by_name[s->names[i]]->text);
      if (i) {
        EXPECT_LT(std::stoi(s->names[i - 1].substr(3)), std::stoi(s->names[i].substr(3)));
      }
    }
  }
}

TEST(DataSplit, GiantDocumentStaysInTrainAndNoSplitIsEmpty) {
  const std::vector<int64_t> sizes = {10, 10, 5'000'000, 10};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SplitOptions opt;
    opt.seed = seed;
    const auto where = split_documents(sizes, opt);
    // test takes small documents while short of 5% of the tokens, but leaves one for val.
    EXPECT_EQ(where[2], 0) << "seed " << seed;
    EXPECT_EQ(std::count(where.begin(), where.end(), 1), 1);
    EXPECT_EQ(std::count(where.begin(), where.end(), 2), 2);
  }
  // Three documents: one each.
  auto where = split_documents({5, 6, 7}, SplitOptions{});
  std::sort(where.begin(), where.end());
  EXPECT_EQ(where, (std::vector<int>{0, 1, 2}));
  // Large fractions still leave one document for val and one for train.
  SplitOptions big;
  big.val_fraction = 0.45;
  big.test_fraction = 0.5;
  const auto w = split_documents(std::vector<int64_t>(10, 100), big);
  EXPECT_GE(std::count(w.begin(), w.end(), 0), 1);
  EXPECT_GE(std::count(w.begin(), w.end(), 1), 1);
}

TEST(DataSplit, TooFewDocumentsOrBadFractionsAreErrors) {
  EXPECT_NE(error_of([] { split_documents({100, 200}, SplitOptions{}); }).find("needs at least 3"), std::string::npos);
  SplitOptions opt;
  opt.val_fraction = 0;
  EXPECT_NE(error_of([&] { split_documents({1, 2, 3}, opt); }).find("--data.val-fraction"), std::string::npos);
  opt.val_fraction = 0.6;
  opt.test_fraction = 0.4;
  EXPECT_NE(error_of([&] { split_documents({1, 2, 3}, opt); }).find("must be < 1"), std::string::npos);
}

// ---- checksums -----------------------------------------------------------------

TEST(DataChecksum, Fnv1a64KnownValuesAndStability) {
  auto h = [](const std::string& s) { return fnv1a64(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  EXPECT_EQ(h(""), 0xcbf29ce484222325ULL);  // reference vectors (Fowler/Noll/Vo)
  EXPECT_EQ(h("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(h("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(fnv1a64_hex(h("a")), "fnv1a64:af63dc4c8601ec8c");
  // Streaming equals one pass.
  const std::string s = "foobar";
  uint64_t part = fnv1a64(reinterpret_cast<const uint8_t*>(s.data()), 3);
  EXPECT_EQ(fnv1a64(reinterpret_cast<const uint8_t*>(s.data()) + 3, 3, part), h("foobar"));
  // The same corpus and seed give the same checksums, every time.
  const Dataset a = make_dataset(toy_corpus(50), SplitOptions{});
  const Dataset b = make_dataset(toy_corpus(50), SplitOptions{});
  EXPECT_EQ(a.checksum(), b.checksum());
  EXPECT_EQ(a.train.checksum(), b.train.checksum());
  EXPECT_NE(a.train.checksum(), a.val.checksum());
}

// ---- dataset.h5 ----------------------------------------------------------------

TEST(DatasetFile, RoundTrip) {
  TempFolder tmp;
  const Corpus c = toy_corpus(40);
  SplitOptions opt;
  opt.val_fraction = 0.1;
  opt.test_fraction = 0.15;
  opt.seed = 9;
  const Dataset ds = make_dataset(c, opt);
  save_dataset(ds, (tmp / kDatasetFile).string(), {"data", "pelab data prepare", "[data]\n"});
  const Dataset back = load_dataset(tmp.path().string());  // the folder works as well as the file
  EXPECT_EQ(back.corpus, "path");
  EXPECT_EQ(back.source, "toy");
  EXPECT_EQ(back.recipe, "toy documents");
  EXPECT_EQ(back.split_options.val_fraction, 0.1);
  EXPECT_EQ(back.split_options.test_fraction, 0.15);
  EXPECT_EQ(back.split_options.seed, 9u);
  for (const char* name : {"train", "val", "test"}) {
    EXPECT_EQ(back.split(name).tokens, ds.split(name).tokens) << name;
    EXPECT_EQ(back.split(name).offsets, ds.split(name).offsets) << name;
    EXPECT_EQ(back.split(name).names, ds.split(name).names) << name;
  }
  EXPECT_EQ(back.checksum(), ds.checksum());
  h5::File f = h5::File::open_read((tmp / kDatasetFile).string());
  EXPECT_EQ(f.attr_string("command"), "data");
  EXPECT_EQ(f.attr_int("vocab_size"), 256);
  EXPECT_EQ(f.attr_int("num_docs"), 40);
  EXPECT_EQ(f.open_group("val").attr_string("checksum"), ds.val.checksum());
  EXPECT_FALSE(fs::exists(tmp / (std::string(kDatasetFile) + ".tmp-" + std::to_string(getpid()))));
}

TEST(DatasetFile, DamageIsAClearError) {
  TempFolder tmp;
  const std::string file = (tmp / kDatasetFile).string();
  // Not HDF5 at all.
  write_text(file, "this is not an HDF5 file");
  EXPECT_NE(error_of([&] { load_dataset(file); }).find("no pelab seal"), std::string::npos);
  // A real file cut in half.
  save_dataset(make_dataset(toy_corpus(20), SplitOptions{}), file, {"data", "", ""});
  fs::resize_file(file, fs::file_size(file) / 2);
  EXPECT_NE(error_of([&] { load_dataset(file); }).find("(truncated)"), std::string::npos);
  // Valid HDF5 whose tokens no longer match their checksum.
  save_dataset(make_dataset(toy_corpus(20), SplitOptions{}), file, {"data", "", ""});
  {
    hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(id, 0);
    h5::Handle fh(id, H5Fclose);
    h5::Group train(h5::Handle(H5Gopen2(id, "train", H5P_DEFAULT), H5Gclose), "/train", file);
    train.write("tokens", std::vector<uint8_t>(static_cast<size_t>(train.attr_int("num_tokens")), 'x'));
  }
  // The seal sees the changed bytes first ...
  EXPECT_NE(error_of([&] { load_dataset(file); }).find("CRC-32"), std::string::npos);
  // ... and with a forged seal the tokens' own checksum does.
  h5::seal_file(file);
  EXPECT_NE(error_of([&] { load_dataset(file); }).find("do not match their checksum"), std::string::npos);
  // Some other pelab HDF5 file.
  {
    h5::File other = h5::File::create(file);
    other.set_attr("schema_version", int64_t{1});
    other.commit();
  }
  EXPECT_NE(error_of([&] { load_dataset(file); }).find("not a pelab dataset"), std::string::npos);
  // Folders without the file.
  EXPECT_NE(error_of([&] { load_dataset((tmp / "nope").string()); }).find("does not exist"), std::string::npos);
  fs::create_directories(tmp / "empty");
  EXPECT_NE(error_of([&] { load_dataset((tmp / "empty").string()); }).find("no dataset.h5"), std::string::npos);
}

// ---- corpora -------------------------------------------------------------------

TEST(DataCorpus, FolderOfTextFiles) {
  TempFolder tmp;
  const fs::path root = tmp / "corpus";
  write_text(root / "b.txt", "second file\n");
  write_text(root / "a.txt", "first file\n");
  write_text(root / "sub" / "c.md", "third, in a subfolder\n");
  write_text(root / ".hidden", "not read\n");
  write_text(root / ".git" / "config", "not read either\n");
  write_text(root / "empty.txt", "");
  write_text(root / "blob.bin", std::string("bin\0ary", 7));
  const Corpus c = load_corpus(root.string());
  EXPECT_EQ(c.name, "path");
  EXPECT_EQ(c.source, fs::absolute(root).lexically_normal().string());
  ASSERT_EQ(c.docs.size(), 3u);
  EXPECT_EQ(c.docs[0].name, "a.txt");
  EXPECT_EQ(c.docs[1].name, "b.txt");
  EXPECT_EQ(c.docs[2].name, "sub/c.md");
  EXPECT_EQ(c.docs[2].text, "third, in a subfolder\n");
  EXPECT_EQ(c.skipped_files, 2);
  const Dataset ds = make_dataset(c, SplitOptions{});
  EXPECT_EQ(ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs(), 3);
}

TEST(DataCorpus, SingleFileIsCutAtParagraphs) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "Paragraph " + std::to_string(i) + " has a line.\nAnd another one.\n\n";
  text += std::string(700, 'x') + "\n";  // one long line at the end
  const auto docs = split_text_into_documents(text, "book.txt", 300);
  std::string joined;
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(docs[i].name, "book.txt@" + std::to_string(joined.size()));
    joined += docs[i].text;
    if (i + 1 < docs.size()) {
      EXPECT_GE(docs[i].text.size(), 300u);
      // Closed at the first piece end past 300 bytes: a paragraph (< 50 bytes) or a 300-byte cut of the long line.
      EXPECT_LT(docs[i].text.size(), docs[i].text.find('x') == std::string::npos ? 350u : 600u);
    }
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(docs[1].text.rfind("Paragraph", 0), 0u) << "documents start at a paragraph";
  // A text without blank lines is cut at line ends; a single huge line every doc_bytes.
  const auto lines = split_text_into_documents(std::string(1000, 'y'), "one.txt", 100);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[9].name, "one.txt@900");
}

TEST(DataCorpus, BadSpecsAreClearErrors) {
  TempFolder tmp;
  EXPECT_NE(error_of([] { load_corpus("shakespeare"); }).find("unknown corpus 'shakespeare'"), std::string::npos);
  EXPECT_NE(error_of([&] { load_corpus((tmp / "missing.txt").string()); }).find("does not exist"), std::string::npos);
  write_text(tmp / "empty.txt", "");
  EXPECT_NE(error_of([&] { load_corpus((tmp / "empty.txt").string()); }).find("is empty"), std::string::npos);
  fs::create_directories(tmp / "nothing");
  write_text(tmp / "nothing" / "zero.txt", "");
  EXPECT_NE(error_of([&] { load_corpus((tmp / "nothing").string()); }).find("holds no text"), std::string::npos);
  // A short file makes fewer than 3 documents.
  write_text(tmp / "short.txt", "just one paragraph\n");
  const Corpus c = load_corpus((tmp / "short.txt").string());
  EXPECT_NE(error_of([&] { make_dataset(c, SplitOptions{}); }).find("needs at least 3"), std::string::npos);
}

TEST(DataCorpus, MissingPackagesNameTheAptGetCommand) {
  CorpusPaths none;
  none.bible = "/nonexistent/bible";
  none.bible_data = "/nonexistent/bible.data";
  none.gcide_dict = "/nonexistent/gcide.dict.dz";
  none.gcide_index = "/nonexistent/gcide.index";
  none.linux_tarball = "/nonexistent/linux-source-6.1.tar.xz";
  const std::string kjv = error_of([&] { load_corpus("kjv", {}, none); });
  EXPECT_NE(kjv.find("apt-get install bible-kjv bible-kjv-text"), std::string::npos) << kjv;
  const std::string gcide = error_of([&] { load_corpus("gcide", {}, none); });
  EXPECT_NE(gcide.find("apt-get install dict-gcide"), std::string::npos) << gcide;
  const std::string linux = error_of([&] { load_corpus("linux-c", {}, none); });
  EXPECT_NE(linux.find("apt-get install linux-source-6.1"), std::string::npos) << linux;
  EXPECT_NE(linux.find("scripts/install-deps --with-linux-source"), std::string::npos) << linux;
  for (const auto* s : {&kjv, &gcide, &linux}) EXPECT_EQ(s->find('\n'), std::string::npos);
}

TEST(DataCorpus, KjvOneDocumentPerBook) {
  const CorpusPaths paths;
  if (!fs::exists(paths.bible) || !fs::exists(paths.bible_data))
    GTEST_SKIP() << "bible-kjv / bible-kjv-text not installed (bash scripts/install-deps)";
  const Corpus c = load_kjv();
  ASSERT_EQ(c.docs.size(), 66u);
  EXPECT_EQ(c.docs[0].name, "Genesis");
  EXPECT_EQ(c.docs[0].text.rfind("Genesis\n\n1:1 In the beginning God created the heaven and the earth.\n", 0), 0u);
  EXPECT_EQ(c.docs[21].name, "Song of Solomon");
  EXPECT_EQ(c.docs[65].name, "Revelation");
  const std::string& rev = c.docs[65].text;
  EXPECT_EQ(rev.substr(rev.size() - 64), "22:21 The grace of our Lord Jesus Christ be with you all. Amen.\n");
  EXPECT_NE(c.source.find("bible-kjv-text"), std::string::npos);
  int64_t total = 0;
  for (const auto& d : c.docs) total += static_cast<int64_t>(d.text.size());
  EXPECT_GT(total, 4'000'000);
  const Dataset ds = make_dataset(c, SplitOptions{});
  EXPECT_EQ(ds.train.names.front(), "Genesis");
  EXPECT_EQ(std::count(ds.train.names.begin(), ds.train.names.end(), "Psalms"), 1) << "the largest book is in train";
  if (package_version("bible-kjv-text") == "4.38" && package_version("bible-kjv") == "4.38") {
    // Pinned for Debian 12's packages: the recipe and the split must not drift.
    EXPECT_EQ(total, 4'304'182);
    EXPECT_EQ(ds.checksum(), "fnv1a64:a22b0c8f306335bf");
  }
}

TEST(DataCorpus, GcideEntriesInDocuments) {
  const CorpusPaths paths;
  if (!fs::exists(paths.gcide_dict) || !fs::exists(paths.gcide_index))
    GTEST_SKIP() << "dict-gcide not installed (bash scripts/install-deps)";
  const Corpus c = load_gcide();
  ASSERT_GT(c.docs.size(), 100u);
  for (size_t i = 0; i + 1 < c.docs.size(); ++i) {
    EXPECT_GE(static_cast<int64_t>(c.docs[i].text.size()), kGcideDocBytes);
    EXPECT_LT(static_cast<int64_t>(c.docs[i].text.size()), kGcideDocBytes + 64 * 1024) << c.docs[i].name;
  }
  EXPECT_NE(c.docs[0].text.find("0 \\0\\ adj."), std::string::npos);
  // The last indexed headword names the last document, whose text runs to the
  // end of the dictionary (Zythum, after it, is not in the index but is kept).
  EXPECT_EQ(c.docs.back().name.substr(c.docs.back().name.size() - 12), "..Zythepsary");
  EXPECT_NE(c.docs.back().text.find("Zythum \\Zy\"thum\\"), std::string::npos);
  EXPECT_EQ(c.docs[0].text.find("00-database"), std::string::npos);
}

// ---- batcher -----------------------------------------------------------------

Split counting_split(int64_t n) {  // tokens[i] = i % 251: a window's start is readable from it
  Split s;
  for (int64_t i = 0; i < n; ++i) s.tokens.push_back(static_cast<uint8_t>(i % 251));
  s.offsets = {0, n};
  s.names = {"counting"};
  return s;
}

Split split_of(const std::vector<std::string>& docs) {
  Split s;
  s.offsets = {0};
  for (size_t i = 0; i < docs.size(); ++i) {
    s.tokens.insert(s.tokens.end(), docs[i].begin(), docs[i].end());
    s.offsets.push_back(s.num_tokens());
    s.names.push_back("d" + std::to_string(i));
  }
  return s;
}

std::string text_of(const Split& s) { return std::string(s.tokens.begin(), s.tokens.end()); }

// A parallel passage (13 words shared with train, even with other spacing and
// across a train line break) is removed from val and test; lines sharing only
// 12 words, and short lines, stay.
TEST(Dedup, RemovesHeldOutLinesSharingThirteenWordsWithTrain) {
  Dataset ds;
  ds.train = split_of({"1:1 and it came to pass that the king went up\nto the house of the lord with all his men.\n",
                       "other words entirely here.\n"});
  const std::string copied = "2:3 it came to pass that the king went up to the house of the lord.\n";  // 13+ words
  const std::string twelve = "2:4 so it came to pass that the king went up to the house now.\n";  // 12 shared
  const std::string fresh = "2:5 a new verse with words nobody wrote in train at all, none of them in order.\n";
  ds.val = split_of({fresh});
  ds.test = split_of({"Book\n\n" + copied + twelve, copied});
  const DedupReport r = remove_train_overlap(ds, 13);
  EXPECT_EQ(r.lines_removed[0], 0);
  EXPECT_EQ(r.lines_removed[1], 2);
  EXPECT_EQ(r.bytes_removed[1], 2 * static_cast<int64_t>(copied.size()));
  EXPECT_EQ(r.docs_dropped[1], 1);  // the second test document was all copy
  EXPECT_EQ(text_of(ds.test), "Book\n\n" + twelve);
  EXPECT_EQ(ds.test.num_docs(), 1);
  EXPECT_EQ(ds.test.offsets, (std::vector<int64_t>{0, ds.test.num_tokens()}));
  EXPECT_EQ(text_of(ds.val), fresh);
  // 12 words catch the near copy too; 0 keeps everything.
  Dataset again;
  again.train = split_of({"1:1 and it came to pass that the king went up\nto the house of the lord with all his men.\n"});
  again.val = split_of({fresh});
  again.test = split_of({"Book\n\n" + twelve, fresh});
  EXPECT_EQ(remove_train_overlap(again, 12).lines_removed[1], 1);
  EXPECT_EQ(remove_train_overlap(again, 0).lines_removed[1], 0);
  // A split left empty, or a bad N, is one clear error.
  Dataset all_copy;
  all_copy.train = ds.train;
  all_copy.val = split_of({fresh});
  all_copy.test = split_of({copied});
  EXPECT_NE(error_of([&] { remove_train_overlap(all_copy, 13); }).find("test split empty"), std::string::npos);
  EXPECT_THROW(remove_train_overlap(all_copy, -1), Error);
}

TEST(Batcher, WindowsAreShiftedSlicesOfTheSplit) {
  const Split s = counting_split(5000);
  Batcher b(s, {.length = 64, .seed = 3});
  const Batch batch = b.next(8);
  ASSERT_EQ(batch.inputs.size(), 8u * 64);
  std::set<int32_t> firsts;
  for (int64_t r = 0; r < 8; ++r) {
    firsts.insert(batch.inputs[r * 64]);
    for (int64_t t = 0; t < 64; ++t) {
      EXPECT_EQ(batch.targets[r * 64 + t], (batch.inputs[r * 64 + t] + 1) % 251);
      if (t + 1 < 64) {
        EXPECT_EQ(batch.inputs[r * 64 + t + 1], batch.targets[r * 64 + t]);
      }
    }
    EXPECT_EQ(batch.synthetic[r], 0);
  }
  EXPECT_GT(firsts.size(), 4u) << "random starts";
  EXPECT_TRUE(std::all_of(batch.answer.begin(), batch.answer.end(), [](uint8_t a) { return a == 0; }));
  // Exactly T + 1 tokens is enough; fewer is an error.
  const Split just_enough = counting_split(65);
  Batcher tight(just_enough, {.length = 64, .seed = 1});
  EXPECT_EQ(tight.next(2).inputs[0], 0);
  EXPECT_NE(error_of([] { Split x = counting_split(64); Batcher bad(x, {.length = 64}); }).find("fewer than the context length"),
            std::string::npos);
}

TEST(Batcher, DeterministicGivenTheSeed) {
  const Split s = counting_split(100000);
  Batcher a(s, {.length = 32, .seed = 11}), b(s, {.length = 32, .seed = 11}), c(s, {.length = 32, .seed = 12});
  for (int i = 0; i < 5; ++i) {
    const Batch x = a.next(4), y = b.next(4), z = c.next(4);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.targets, y.targets);
    EXPECT_NE(x.inputs, z.inputs);
  }
}

TEST(Batcher, ResumesExactlyFromSavedState) {
  const Split s = counting_split(50000);
  for (SyntheticTask task : {SyntheticTask::NONE, SyntheticTask::COPY, SyntheticTask::MQAR}) {
    const BatcherOptions opt{.length = 48, .seed = 5, .synthetic = task, .synthetic_rate = task == SyntheticTask::NONE ? 0.0 : 0.4};
    Batcher straight(s, opt);
    std::vector<Batch> want;
    BatcherState saved;
    for (int i = 0; i < 6; ++i) {
      if (i == 2) saved = straight.state();
      want.push_back(straight.next(5));
    }
    // Through the integers a checkpoint stores.
    const std::vector<int64_t> ints = saved.to_ints();
    ASSERT_EQ(ints.size(), 3u);
    Batcher resumed(s, opt);
    resumed.restore(BatcherState::from_ints(ints));
    EXPECT_EQ(resumed.state(), saved);
    for (int i = 2; i < 6; ++i) {
      const Batch got = resumed.next(5);
      EXPECT_EQ(got.inputs, want[i].inputs) << to_string(task) << " batch " << i;
      EXPECT_EQ(got.targets, want[i].targets);
      EXPECT_EQ(got.answer, want[i].answer);
      EXPECT_EQ(got.synthetic, want[i].synthetic);
    }
    EXPECT_EQ(resumed.state(), straight.state());
    EXPECT_EQ(straight.state().rows, 30);
  }
  EXPECT_NE(error_of([] { BatcherState::from_ints({1, 2}); }), "");
}

// Randomized positions (arXiv 2305.16843): sorted distinct positions of
// [0, M), every T-subset equally likely; the rows' tokens are those of a run
// without them, and a resumed batcher draws the same positions.
TEST(Batcher, RandomPositionsAreSortedSubsetsAndLeaveTheRowsAlone) {
  // Selection sampling: each position is in the subset with probability T/M.
  // 20000 draws of 8 of [0, 32): each count ~ Binomial(20000, 1/4), sd 61; 5 sd.
  Rng rng(9);
  std::vector<int> count(32, 0);
  std::vector<double> pos(8);
  for (int d = 0; d < 20000; ++d) {
    draw_sorted_positions(32, 8, rng, pos.data());
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(pos[i] >= 0 && pos[i] < 32);
      if (i > 0) {
        ASSERT_LT(pos[i - 1], pos[i]) << "sorted and distinct";
      }
      ++count[static_cast<int>(pos[i])];
    }
  }
  for (int c : count) EXPECT_NEAR(c, 5000, 5 * 61.3);
  draw_sorted_positions(8, 8, rng, pos.data());  // M = T: every position
  EXPECT_EQ(pos, (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_NE(error_of([&] { draw_sorted_positions(7, 8, rng, pos.data()); }).find("cannot draw 8 distinct"), std::string::npos);

  const Split s = counting_split(50000);
  BatcherOptions off{.length = 16, .seed = 5}, on = off;
  on.random_positions = 64;
  Batcher a(s, off), b(s, on);
  std::vector<Batch> want;
  for (int i = 0; i < 3; ++i) {
    const Batch x = a.next(4), y = b.next(4);
    EXPECT_TRUE(x.positions.empty());
    EXPECT_EQ(x.inputs, y.inputs) << "the positions do not consume the rows' stream";
    ASSERT_EQ(y.positions.size(), 64u);
    EXPECT_NE(std::vector<double>(y.positions.begin(), y.positions.begin() + 16),
              std::vector<double>(y.positions.begin() + 16, y.positions.begin() + 32))
        << "each row draws its own";
    want.push_back(y);
  }
  Batcher resumed(s, on);
  Batcher skip(s, on);
  skip.next(4);
  resumed.restore(skip.state());
  EXPECT_EQ(resumed.next(4).positions, want[1].positions);
}

TEST(Batcher, SyntheticMixAtTheGivenRate) {
  const Split s = counting_split(20000);
  Batcher all(s, {.length = 40, .seed = 1, .synthetic = SyntheticTask::COPY, .synthetic_rate = 1.0, .copy_min = 19,
                  .copy_max = 19});
  const Batch b = all.next(3);
  for (int64_t r = 0; r < 3; ++r) {
    EXPECT_EQ(b.synthetic[r], 1);
    // A row of 41: one copy of 19 bytes ("P|P\n", 40 bytes), then '\n'; the answers are targets 19..37.
    EXPECT_EQ(b.inputs[r * 40 + 19], '|');
    for (int64_t t = 0; t < 40; ++t) EXPECT_EQ(b.answer[r * 40 + t], t >= 19 && t <= 37 ? 1 : 0) << t;
    for (int64_t t = 19; t <= 37; ++t) EXPECT_EQ(b.targets[r * 40 + t], b.inputs[r * 40 + t - 19]);
    EXPECT_EQ(b.targets[r * 40 + 38], '\n');
  }
  // A payload range that no row of 41 holds is refused when the batcher is made.
  EXPECT_NE(error_of([&] {
              Batcher x(s, {.length = 40, .synthetic = SyntheticTask::COPY, .synthetic_rate = 1.0, .copy_max = 20});
            }).find("do not fit"),
            std::string::npos);
  // Passkey rows hide the needle in a window of the training split itself.
  Batcher pk(s, {.length = 400, .seed = 4, .synthetic = SyntheticTask::PASSKEY, .synthetic_rate = 1.0});
  const Batch p = pk.next(20);
  for (int64_t r = 0; r < 20; ++r) {
    std::string row;
    for (int64_t t = 0; t < 400; ++t) row += static_cast<char>(p.inputs[r * 400 + t]);
    const size_t needle = row.find("\nThe pass key is ");
    ASSERT_NE(needle, std::string::npos);
    for (size_t i = 1; i < needle; ++i)
      EXPECT_EQ(static_cast<uint8_t>(row[i]), (static_cast<uint8_t>(row[i - 1]) + 1) % 251) << "row " << r << " byte " << i;
  }
  Batcher some(s, {.length = 127, .seed = 2, .synthetic = SyntheticTask::PASSKEY, .synthetic_rate = 0.3});
  const Batch many = some.next(2000);
  const double frac = std::count(many.synthetic.begin(), many.synthetic.end(), 1) / 2000.0;
  EXPECT_NEAR(frac, 0.3, 0.05);
  EXPECT_EQ(some.state().synthetic, std::count(many.synthetic.begin(), many.synthetic.end(), 1));
  // Passkey needs 120 tokens (104 and a haystack of 16); 33 cannot hold it.
  EXPECT_NE(error_of([&] { Batcher x(s, {.length = 32, .synthetic = SyntheticTask::PASSKEY, .synthetic_rate = 0.1}); })
                .find("needs rows of at least 120"),
            std::string::npos);
}

// ---- evaluation windows --------------------------------------------------------

void expect_each_target_once(const std::vector<EvalWindow>& ws, int64_t n, int64_t L) {
  std::vector<int> scored(n, 0);
  for (const auto& w : ws) {
    EXPECT_GE(w.begin, 0);
    EXPECT_LE(w.length, L);
    EXPECT_LE(w.begin + w.length, n - 1);
    for (int64_t t = w.score_from; t < w.length; ++t) ++scored[w.begin + t + 1];
  }
  EXPECT_EQ(scored[0], 0);
  for (int64_t i = 1; i < n; ++i) EXPECT_EQ(scored[i], 1) << "target " << i;
}

TEST(BatchEvalWindows, EveryTokenScoredOnce) {
  for (int64_t n : {2, 10, 64, 65, 1000, 1001}) {
    expect_each_target_once(nonoverlap_windows(n, 64), n, 64);
    for (int64_t stride : {1, 16, 64}) expect_each_target_once(sliding_windows(n, 64, stride), n, 64);
  }
  const auto w = sliding_windows(1001, 100, 25);
  ASSERT_GE(w.size(), 2u);
  EXPECT_EQ(w[1].length, 100);     // full-length context
  EXPECT_EQ(w[1].score_from, 75);  // only the last stride is new
  EXPECT_EQ(nonoverlap_windows(1, 64).size(), 0u);
}

}  // namespace
}  // namespace pelab::data
