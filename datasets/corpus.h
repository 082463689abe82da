// Corpus recipes: turn a named corpus (real text shipped by Debian packages) or
// any text file / folder into a list of documents of raw bytes. Tokenisation is
// the identity on bytes (vocabulary 256); splitting and storage are in
// dataset.h. The recipes, and what one document is for each, are documented in
// docs/hdf5-schema.md ("dataset.h5") and summarised here:
//
//   kjv      King James Bible: one document per book (66), in canonical order;
//            text from the `bible` reader (package bible-kjv) over the data of
//            bible-kjv-text. A document is the book's name, a blank line, then
//            one verse per line as "chapter:verse text".
//   gcide    GNU Collaborative International Dictionary of English (dict-gcide):
//            the entries in file (dictionary) order, grouped into documents of
//            consecutive whole entries, a new document starting once the
//            current one holds >= kGcideDocBytes; named "first..last" headword.
//   linux-c  Linux 6.1 C sources (linux-source-6.1): every *.c and *.h file
//            under kernel/, mm/ and lib/, one document per file, sorted by path.
//   PATH     a folder: every non-hidden regular file below it (recursively,
//            hidden folders skipped), one document per file, sorted by relative
//            path; empty files and files with a NUL byte (binary) are skipped.
//            A single file: cut into documents of about `doc_bytes` at
//            paragraph (blank line) boundaries, see split_text_into_documents.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pelab::data {

struct Document {
  std::string name;  // "Genesis", "kernel/fork.c", "notes.txt@65536"
  std::string text;  // raw bytes (token i = static_cast<uint8_t>(text[i]))
};

struct Corpus {
  std::string name;    // "kjv", "gcide", "linux-c", or "path"
  std::string source;  // packages and versions, or the absolute path read
  std::string recipe;  // one line: what a document is
  std::vector<Document> docs;
  int64_t skipped_files = 0;  // PATH folders: empty or binary files left out
};

// Where the packaged corpora live. Tests point these at missing paths to check
// the "install the package" errors without uninstalling anything.
struct CorpusPaths {
  std::string bible = "/usr/bin/bible";                          // bible-kjv
  std::string bible_data = "/usr/lib/bible.data";                // bible-kjv-text
  std::string gcide_dict = "/usr/share/dictd/gcide.dict.dz";     // dict-gcide
  std::string gcide_index = "/usr/share/dictd/gcide.index";      // dict-gcide
  std::string linux_tarball = "/usr/src/linux-source-6.1.tar.xz";  // linux-source-6.1
};

inline constexpr int64_t kGcideDocBytes = 256 * 1024;
inline constexpr int64_t kDefaultDocBytes = 64 * 1024;

struct TextOptions {
  int64_t doc_bytes = kDefaultDocBytes;  // single-file PATH: target document size
};

// Dispatches on `spec`: kjv | gcide | linux-c, else a path to a file or folder.
// A spec that is neither a known name nor an existing path is an error naming
// both possibilities; a path-looking spec (with '/' or '.') that does not exist
// is reported as a missing path.
Corpus load_corpus(const std::string& spec, const TextOptions& text = {}, const CorpusPaths& paths = {});

Corpus load_kjv(const CorpusPaths& paths = {});
Corpus load_gcide(const CorpusPaths& paths = {});
Corpus load_linux_c(const CorpusPaths& paths = {});
Corpus load_text_path(const std::string& path, const TextOptions& text = {});

// The single-file rule: the text is cut into pieces (paragraphs ending with a
// blank line; a paragraph longer than doc_bytes is cut at line ends, and a line
// longer than doc_bytes every doc_bytes bytes), and consecutive pieces are
// joined greedily into documents, closing a document as soon as it holds
// >= doc_bytes bytes. The last document holds the rest. Concatenating the
// documents gives the text back exactly. Names are "<name>@<byte offset>".
std::vector<Document> split_text_into_documents(const std::string& text, const std::string& name, int64_t doc_bytes);

// "bible-kjv-text 4.38" from dpkg-query, or "" when dpkg does not know it.
std::string package_version(const std::string& package);

}  // namespace pelab::data
