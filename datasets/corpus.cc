#include "datasets/corpus.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "core/strings.h"

namespace pelab::data {

namespace fs = std::filesystem;

namespace {

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `cmd` through /bin/sh and returns its stdout; a non-zero exit is an error.
std::string run_capture(const std::string& cmd, const std::string& what) {
  std::FILE* p = popen(cmd.c_str(), "r");
  PELAB_CHECK(p, "cannot run " << what, "check that /bin/sh works");
  std::string out;
  std::array<char, 1 << 16> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  const std::string first_line = out.substr(0, std::min(out.find('\n'), size_t{200}));
  throw Error(what + " failed (exit status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")" +
                  (first_line.empty() ? "" : ": " + first_line),
              "run it by hand to see its messages: " + cmd);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  PELAB_CHECK(in.good(), "cannot read '" << p.string() << "'", "check that the file exists and is readable");
  std::string s;
  in.seekg(0, std::ios::end);
  s.resize(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  PELAB_CHECK(in.good() || in.eof(), "error reading '" << p.string() << "'", "check the file");
  return s;
}

// Files each package must provide; a missing one is reported with the exact
// apt-get line (DESIGN.md: every bad input names what to do).
struct Needed {
  std::string path;
  std::string package;
};

void require_packages(const std::string& corpus, const std::vector<Needed>& needed, const std::string& extra_hint = {}) {
  std::vector<std::string> missing_pkgs, missing_paths;
  for (const auto& n : needed) {
    std::error_code ec;
    if (fs::exists(n.path, ec)) continue;
    missing_paths.push_back(n.path);
    if (std::find(missing_pkgs.begin(), missing_pkgs.end(), n.package) == missing_pkgs.end()) missing_pkgs.push_back(n.package);
  }
  if (missing_pkgs.empty()) return;
  throw Error("--corpus " + corpus + " needs the Debian package" + (missing_pkgs.size() > 1 ? "s " : " ") +
                  join(missing_pkgs, " ") + " (missing: " + join(missing_paths, ", ") + ")",
              "install with: apt-get install " + join(missing_pkgs, " ") + extra_hint);
}

std::string packages_source(const std::vector<std::string>& pkgs, const std::string& files) {
  std::vector<std::string> parts;
  for (const auto& p : pkgs) {
    std::string v = package_version(p);
    parts.push_back(v.empty() ? p + " (version unknown)" : p + " " + v);
  }
  return join(parts, ", ") + "; " + files;
}

// ---- kjv ---------------------------------------------------------------------

// The 66 books in the order `bible` prints them (its own abbreviations differ:
// Ge, Exo, ..., SSol, ..., Rev).
const std::array<const char*, 66> kBooks = {
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "1 Samuel",
    "2 Samuel", "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra", "Nehemiah", "Esther", "Job",
    "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel",
    "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai",
    "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians",
    "2 Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "1 Thessalonians",
    "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus", "Philemon", "Hebrews", "James", "1 Peter", "2 Peter",
    "1 John", "2 John", "3 John", "Jude", "Revelation"};

}  // namespace

std::string package_version(const std::string& package) {
  std::string cmd = "dpkg-query -W -f='${Version}' " + shell_quote(package) + " 2>/dev/null";
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return {};
  return trim(out);
}

Corpus load_kjv(const CorpusPaths& paths) {
  require_packages("kjv", {{paths.bible, "bible-kjv"}, {paths.bible_data, "bible-kjv-text"}});
  // `bible -f` turns pretty-printing off: one verse per line, "Ge1:1 In the ...".
  const fs::path data(paths.bible_data);
  const std::string cmd = shell_quote(paths.bible) + " -f -p " + shell_quote(data.parent_path().string()) + " -d " +
                          shell_quote(data.filename().string()) + " Gen1:1-Rev22:21 < /dev/null 2>/dev/null";
  const std::string out = run_capture(cmd, "the bible reader (" + paths.bible + ")");

  Corpus c;
  c.name = "kjv";
  c.source = packages_source({"bible-kjv-text", "bible-kjv"}, paths.bible_data + " read by " + paths.bible + " -f");
  c.recipe = "one document per book (66, canonical order): the book's name, a blank line, then one verse per line as "
             "'chapter:verse text'";
  std::string abbrev;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // "<abbrev><chapter>:<verse> <text>", the abbreviation possibly starting with a digit (1Sm).
    size_t i = (line[0] >= '1' && line[0] <= '3') ? 1 : 0;
    while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
    size_t space = line.find(' ', i);
    PELAB_CHECK(i > 0 && i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])) && space != std::string::npos &&
                    line.find(':', i) < space,
                "unexpected line from the bible reader: '" << line.substr(0, 60) << "'",
                "check the bible-kjv package (reinstall with apt-get install --reinstall bible-kjv bible-kjv-text)");
    std::string book = line.substr(0, i);
    if (book != abbrev) {
      PELAB_CHECK(c.docs.size() < kBooks.size(), "the bible reader printed more than 66 books",
                  "check the bible-kjv package");
      abbrev = book;
      c.docs.push_back({kBooks[c.docs.size()], std::string(kBooks[c.docs.size()]) + "\n\n"});
    }
    c.docs.back().text += line.substr(i) + "\n";
  }
  PELAB_CHECK(c.docs.size() == kBooks.size(), "the bible reader printed " << c.docs.size() << " books, expected 66",
              "check the bible-kjv and bible-kjv-text packages");
  return c;
}

// ---- gcide -------------------------------------------------------------------

namespace {

// dictd's index numbers: base64 digits (A-Z a-z 0-9 + /), most significant first.
int64_t dictd_number(std::string_view s, const std::string& file) {
  int64_t v = 0;
  for (char ch : s) {
    int d;
    if (ch >= 'A' && ch <= 'Z') d = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') d = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') d = ch - '0' + 52;
    else if (ch == '+') d = 62;
    else if (ch == '/') d = 63;
    else throw Error("malformed dictd index '" + file + "': bad number '" + std::string(s) + "'", "reinstall dict-gcide");
    v = v * 64 + d;
  }
  return v;
}

// The .dict.dz is dictzip: a gzip file with random-access data in the header's
// extra field, which zlib's gz* reader skips.
std::string gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  PELAB_CHECK(f, "cannot open '" << path << "'", "check the file (reinstall dict-gcide)");
  gzbuffer(f, 1 << 17);
  std::string out;
  {
    // Reserve from the gzip trailer's ISIZE (uncompressed size mod 2^32): a hint only.
    std::ifstream raw(path, std::ios::binary | std::ios::ate);
    if (raw && raw.tellg() >= 4) {
      raw.seekg(-4, std::ios::end);
      unsigned char b[4] = {};
      raw.read(reinterpret_cast<char*>(b), 4);
      if (raw) out.reserve(b[0] | b[1] << 8 | b[2] << 16 | static_cast<size_t>(b[3]) << 24);
    }
  }
  std::vector<char> buf(1 << 22);
  int n;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) out.append(buf.data(), n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  std::string why = msg ? msg : "";
  gzclose(f);
  PELAB_CHECK(n == 0 && err == Z_OK, "cannot decompress '" << path << "': " << why, "the file is damaged; reinstall dict-gcide");
  return out;
}

}  // namespace

Corpus load_gcide(const CorpusPaths& paths) {
  require_packages("gcide", {{paths.gcide_dict, "dict-gcide"}, {paths.gcide_index, "dict-gcide"}});
  const std::string body = gunzip_file(paths.gcide_dict);
  const std::string index = read_file(paths.gcide_index);

  // Entry starts by offset; several headwords may share one entry (the first
  // listed names it). Index lengths are not used: text between an entry's end
  // and the next entry (a few unindexed lines, 0.3% of the text) is kept.
  std::vector<std::pair<int64_t, std::string>> starts;  // (offset, headword), in index order
  starts.reserve(1 << 18);
  for (size_t b = 0; b < index.size();) {
    size_t e = index.find('\n', b);
    if (e == std::string::npos) e = index.size();
    const std::string_view line(index.data() + b, e - b);
    b = e + 1;
    if (line.empty()) continue;
    const size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    PELAB_CHECK(t1 != std::string::npos && t2 != std::string::npos,
                "malformed dictd index line '" << line.substr(0, 60) << "'", "reinstall dict-gcide");
    const std::string_view head = line.substr(0, t1);
    if (head.substr(0, 3) == "00-") continue;  // database metadata (URL, licence), not dictionary entries
    const int64_t off = dictd_number(line.substr(t1 + 1, t2 - t1 - 1), paths.gcide_index);
    PELAB_CHECK(off >= 0 && off < static_cast<int64_t>(body.size()),
                "dictd index entry '" << head << "' points outside the dictionary text", "reinstall dict-gcide");
    starts.emplace_back(off, std::string(head));
  }
  PELAB_CHECK(!starts.empty(), "the GCIDE index '" << paths.gcide_index << "' lists no entries", "reinstall dict-gcide");
  // By offset; stable, so of the headwords sharing an entry the first listed stays first and names it.
  std::stable_sort(starts.begin(), starts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  starts.erase(std::unique(starts.begin(), starts.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
               starts.end());

  Corpus c;
  c.name = "gcide";
  c.source = packages_source({"dict-gcide"}, paths.gcide_dict + " + " + paths.gcide_index);
  c.recipe = "the dictionary text from its first entry to the end (licence preamble and 00-database-* metadata left "
             "out), cut at entry starts (dictd index offsets) into documents of consecutive whole entries: a new "
             "document starts once the current one holds >= " +
             std::to_string(kGcideDocBytes) + " bytes; named 'first..last' headword";
  int64_t doc_begin = starts.begin()->first;
  std::string first_head = starts.begin()->second, last_head = first_head;
  for (auto it = std::next(starts.begin());; ++it) {
    const int64_t end = it == starts.end() ? static_cast<int64_t>(body.size()) : it->first;
    if (end - doc_begin >= kGcideDocBytes || it == starts.end()) {
      c.docs.push_back({first_head + ".." + last_head, body.substr(static_cast<size_t>(doc_begin), static_cast<size_t>(end - doc_begin))});
      if (it == starts.end()) break;
      doc_begin = end;
      first_head = it->second;
    }
    last_head = it->second;
  }
  return c;
}

// ---- linux-c -----------------------------------------------------------------

namespace {

// A temporary folder removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
    PELAB_CHECK(mkdtemp(tmpl.data()), "cannot create a temporary folder in " << fs::temp_directory_path().string(),
                "set TMPDIR to a writable folder with free space");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every regular file below `root`, as paths relative to it, sorted bytewise;
// hidden files and folders (name starting with '.') are skipped.
std::vector<fs::path> list_files(const fs::path& root) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  PELAB_CHECK(!ec, "cannot list folder '" << root.string() << "': " << ec.message(), "check its permissions");
  for (; it != end; it.increment(ec)) {
    PELAB_CHECK(!ec, "cannot list folder '" << root.string() << "': " << ec.message(), "check its permissions");
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) files.push_back(fs::relative(it->path(), root));
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); });
  return files;
}

}  // namespace

Corpus load_linux_c(const CorpusPaths& paths) {
  require_packages("linux-c", {{paths.linux_tarball, "linux-source-6.1"}},
                   " (139 MB; or: bash scripts/install-deps --with-linux-source)");
  // The archive's top folder is its name without .tar.xz (linux-source-6.1/).
  std::string top = fs::path(paths.linux_tarball).filename().string();
  if (top.size() > 7 && top.compare(top.size() - 7, 7, ".tar.xz") == 0) top.resize(top.size() - 7);
  const std::vector<std::string> dirs = {"kernel", "mm", "lib"};

  TempDir tmp("pelab-linux-");
  std::string cmd = "tar -xJf " + shell_quote(paths.linux_tarball) + " -C " + shell_quote(tmp.path().string()) +
                    " --no-same-owner --wildcards";
  for (const auto& d : dirs)
    for (const char* ext : {"c", "h"}) cmd += " " + shell_quote(top + "/" + d + "/*." + ext);
  std::fprintf(stderr, "pelab data: extracting %s/{kernel,mm,lib}/*.{c,h} from %s (about 20 s)\n", top.c_str(),
               paths.linux_tarball.c_str());
  run_capture(cmd + " 2>&1", "tar extracting from " + paths.linux_tarball);

  Corpus c;
  c.name = "linux-c";
  c.source = packages_source({"linux-source-6.1"}, paths.linux_tarball);
  c.recipe = "one document per *.c and *.h file under kernel/, mm/ and lib/ of the kernel tree, sorted by path";
  const fs::path root = tmp.path() / top;
  for (const auto& rel : list_files(root)) {
    const std::string ext = rel.extension().string();
    if (ext != ".c" && ext != ".h") continue;
    std::string text = read_file(root / rel);
    if (text.empty()) continue;
    c.docs.push_back({rel.generic_string(), std::move(text)});
  }
  PELAB_CHECK(!c.docs.empty(), "no C files found in " << paths.linux_tarball << " under " << top << "/{kernel,mm,lib}",
              "reinstall linux-source-6.1");
  return c;
}

// ---- PATH --------------------------------------------------------------------

std::vector<Document> split_text_into_documents(const std::string& text, const std::string& name, int64_t doc_bytes) {
  PELAB_CHECK(doc_bytes >= 1, "document size must be >= 1 byte, got " << doc_bytes, "e.g. --data.doc-bytes 65536");
  const size_t target = static_cast<size_t>(doc_bytes);
  // Pieces: [begin, end) ranges that are never cut further.
  std::vector<std::pair<size_t, size_t>> pieces;
  auto add_lines = [&](size_t b, size_t e) {  // a long paragraph: cut at line ends, long lines every target bytes
    while (b < e) {
      size_t nl = text.find('\n', b);
      size_t line_end = (nl == std::string::npos || nl >= e) ? e : nl + 1;
      while (line_end - b > target) {
        pieces.push_back({b, b + target});
        b += target;
      }
      if (line_end > b) pieces.push_back({b, line_end});
      b = line_end;
    }
  };
  size_t b = 0;
  while (b < text.size()) {
    // A paragraph ends after the first run of blank lines ("\n\n", "\n\n\n", ...).
    size_t p = text.find("\n\n", b);
    size_t e = p == std::string::npos ? text.size() : p + 2;
    while (e < text.size() && text[e] == '\n') ++e;
    if (e - b > target) add_lines(b, e);
    else pieces.push_back({b, e});
    b = e;
  }
  std::vector<Document> docs;
  size_t start = 0, end = 0;
  for (const auto& [pb, pe] : pieces) {
    end = pe;
    if (end - start >= target) {
      docs.push_back({name + "@" + std::to_string(start), text.substr(start, end - start)});
      start = end;
    }
  }
  if (end > start) docs.push_back({name + "@" + std::to_string(start), text.substr(start, end - start)});
  return docs;
}

Corpus load_text_path(const std::string& path, const TextOptions& opt) {
  std::error_code ec;
  PELAB_CHECK(fs::exists(path, ec), "corpus path '" << path << "' does not exist",
              "give kjv, linux-c, gcide, or an existing text file or folder of text files");
  Corpus c;
  c.name = "path";
  c.source = fs::absolute(path, ec).lexically_normal().string();
  if (fs::is_directory(path, ec)) {
    c.recipe = "one document per non-hidden regular file below the folder (recursive, hidden folders skipped), sorted "
               "by relative path; empty files and files containing a NUL byte are skipped";
    int64_t seen = 0;
    for (const auto& rel : list_files(path)) {
      ++seen;
      std::string text = read_file(fs::path(path) / rel);
      if (text.empty() || text.find('\0') != std::string::npos) {
        ++c.skipped_files;
        continue;
      }
      c.docs.push_back({rel.generic_string(), std::move(text)});
    }
    PELAB_CHECK(!c.docs.empty(), "corpus folder '" << path << "' holds no text: " << seen << " file(s), all empty, binary or hidden",
                "put text files in it");
    return c;
  }
  PELAB_CHECK(fs::is_regular_file(path, ec), "corpus path '" << path << "' is neither a regular file nor a folder",
              "give a text file or a folder of text files");
  const std::string text = read_file(path);
  PELAB_CHECK(!text.empty(), "corpus file '" << path << "' is empty", "give a file with text in it");
  c.recipe = "one file cut into documents at paragraph (blank line) boundaries, closing a document once it holds >= " +
             std::to_string(opt.doc_bytes) + " bytes (--data.doc-bytes); longer paragraphs are cut at line ends";
  c.docs = split_text_into_documents(text, fs::path(path).filename().string(), opt.doc_bytes);
  return c;
}

Corpus load_corpus(const std::string& spec, const TextOptions& text, const CorpusPaths& paths) {
  PELAB_CHECK(!spec.empty(), "--corpus is empty", "give kjv, linux-c, gcide, or a path to a text file or folder");
  if (spec == "kjv") return load_kjv(paths);
  if (spec == "gcide") return load_gcide(paths);
  if (spec == "linux-c") return load_linux_c(paths);
  std::error_code ec;
  if (!fs::exists(spec, ec) && spec.find_first_of("/.") == std::string::npos)
    throw Error("unknown corpus '" + spec + "'", "choose kjv, linux-c, gcide, or a path to a text file or folder");
  return load_text_path(spec, text);
}

}  // namespace pelab::data
