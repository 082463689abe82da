// The length-generalisation task suite: algorithmic tasks a model is trained
// on alone, at short lengths, and scored at longer ones (docs/tasks.md).
//
// Every task turns a length L and an Rng into one example, an input and its
// answer, both short strings of printable bytes. The model sees
//     input '=' answer '\n'
// and is scored on the answer bytes and the closing '\n' (which says where a
// variable-length answer ends): training masks every other target, and an
// example counts as solved when the argmax at each scored byte is that byte
// (teacher-forced greedy, as the probes score; experiments/probe.h).
//
// What L counts is stated per task (`length_means`): the input's symbols for
// the randomized-positions suite (arXiv 2305.16843, whose train range 1-40
// and test range 41-500 are the defaults), the operands' digits for decimal
// addition (arXiv 2305.19466) and index-hint addition, the instructions for
// Flip-Flop, the statements for counting, the variables for LEGO. Training rows
// are packed with examples whose L is uniform over the task's train range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "datasets/corpus.h"
#include "datasets/dataset.h"
#include "datasets/synthetic.h"

namespace pelab::data {

// X(id, name, source, train_min, train_max, test_lengths, length_means, answer_means)
#define PELAB_TASKS(X)                                                                                                   \
  X(PARITY, "parity", "arXiv 2305.16843 (parity check)", 1, 40, "41,60,100,200,500", "input bits",                      \
    "'1' when the input holds an odd number of 1s, else '0'")                                                            \
  X(MODULAR_ARITHMETIC, "modular-arithmetic", "arXiv 2305.16843 (modular arithmetic, simple)", 1, 40,                    \
    "41,61,101,201,501", "input symbols (odd: numbers 0-4 alternate with + - *)",                                        \
    "the expression's value mod 5, products first (one digit)")                                                         \
  X(REVERSE_STRING, "reverse-string", "arXiv 2305.16843 (reverse string)", 1, 40, "41,60,100,200,500", "input bits",    \
    "the input reversed")                                                                                                \
  X(DUPLICATE_STRING, "duplicate-string", "arXiv 2305.16843 (duplicate string)", 1, 40, "41,60,100,200,500",            \
    "input bits", "the input twice")                                                                                     \
  X(MISSING_DUPLICATE, "missing-duplicate", "arXiv 2305.16843 (missing duplicate)", 2, 40, "41,60,100,200,500",         \
    "input symbols: a bit string w written twice, one bit replaced by '_' (odd L: a final '.' pads)",                   \
    "the replaced bit")                                                                                                  \
  X(BINARY_ADDITION, "binary-addition", "arXiv 2305.16843 (binary addition)", 3, 40, "41,60,100,200,500",               \
    "input symbols: two little-endian binary numbers and '+' between them",                                              \
    "their sum, little-endian binary without high zeros")                                                                \
  X(BINARY_MULTIPLICATION, "binary-multiplication", "arXiv 2305.16843 (binary multiplication)", 3, 40,                  \
    "41,60,100,200,500", "input symbols: two little-endian binary numbers and '*' between them",                         \
    "their product, little-endian binary without high zeros")                                                            \
  X(BUCKET_SORT, "bucket-sort", "arXiv 2305.16843 (bucket sort)", 1, 40, "41,60,100,200,500",                           \
    "input symbols from 0-4", "the input sorted ascending")                                                              \
  X(COPY, "copy", "arXiv 2305.19466 (copy)", 1, 20, "21,25,30,40", "input letters a-z", "the input")                    \
  X(REVERSE, "reverse", "arXiv 2305.19466 (reverse)", 1, 20, "21,25,30,40", "input letters a-z", "the input reversed")  \
  X(ADDITION, "addition", "arXiv 2305.19466 (addition)", 1, 20, "21,25,30,40",                                           \
    "digits of each operand (input 'a+b', both L digits)", "a + b in decimal")                                           \
  X(SUMMATION, "summation", "arXiv 2305.19466 (summation)", 1, 20, "21,25,30,40", "input digits 0-9",                   \
    "the digits' sum mod 10 (one digit)")                                                                                \
  X(SORT, "sort", "arXiv 2305.19466 (sorting)", 1, 20, "21,25,30,40", "input digits 0-9", "the digits sorted ascending") \
  X(FLIP_FLOP, "flip-flop", "arXiv 2306.00946 (Flip-Flop language, FFL(0.8))", 2, 64, "65,128,256,512",                  \
    "instructions: 'w' or 'i' or 'r' and a bit each, the first 'w', the last a bare 'r'; a middle 'r' shows the "        \
    "last written bit; ignore 0.8, write and read 0.1 each",                                                             \
    "the last written bit")                                                                                            \
  X(COUNTING, "counting", "arXiv 2405.18719 (counting, 3 variables)", 3, 64, "65,128,256,512",                         \
    "statements: 'x0' sets x to 0, 'x+' adds 1 (values stay <= 10), '..' does nothing; then '?' and a set variable",     \
    "the variable's value, 0-10 in decimal")                                                                             \
  X(SELECTIVE_COPY, "selective-copy", "arXiv 2405.18719 (selective copy)", 1, 40, "41,60,100,200",                      \
    "input symbols: ceil(L/4) letters a-z at random places, '.' elsewhere", "the letters in order")                    \
  X(LEGO, "lego", "arXiv 2305.19466 (LEGO, after arXiv 2206.04301)", 1, 6, "8,12,16,24",                                 \
    "variables (at most 52): clauses 'x:+1' or 'x:-1' for the first, 'y:+x' or 'y:-x' for the others, shuffled, "     \
    "joined by ';'",                                                                                                     \
    "each variable and its sign, in chain order ('a-b+c+')")                                                            \
  X(INDEX_HINT_ADDITION, "index-hint-addition", "arXiv 2402.09371 (addition, reversed digits, index hints)", 1, 20,     \
    "25,30,40,51", "digits of each operand (at most 51), least significant first, each after its index hint",          \
    "the sum, least significant first, each digit after its index hint")                                               \
  X(NIAH_MULTIKEY, "niah-multikey", "arXiv 2404.06654 (RULER multi-key needle in a haystack, noise haystack)", 1, 8,    \
    "16,32,64,128", "haystack sentences; four needles 'The code of KEY is NNNN.' with distinct keys, one queried",     \
    "the queried key's code (4 digits)")                                                                               \
  X(NIAH_MULTIVALUE, "niah-multivalue", "arXiv 2404.06654 (RULER multi-value needle in a haystack, noise haystack)", 1, \
    8, "16,32,64,128", "haystack sentences; four needles with one key and distinct codes",                               \
    "the four codes in the order they appear, joined by ','")                                                          \
  X(NIAH_MULTIQUERY, "niah-multiquery", "arXiv 2404.06654 (RULER multi-query needle in a haystack, noise haystack)", 1, \
    8, "16,32,64,128", "haystack sentences; four needles with distinct keys, two queried",                               \
    "the two queried codes in the query's order, joined by ','")                                                       \
  X(VARIABLE_TRACKING, "variable-tracking", "arXiv 2404.06654 (RULER variable tracking, 4 hops, noise haystack)", 1, 8, \
    "16,32,64,128",                                                                                                     \
    "haystack sentences; two chains 'VAR x: NNNNN.' then 4 hops 'VAR y: VAR x.', in order, one value queried",          \
    "the queried chain's five variables in chain order, joined by ','")                                                \
  X(COMMON_WORDS, "common-words", "arXiv 2404.06654 (RULER common-words extraction, scaled down)", 1, 40,               \
    "60,100,200,400",                                                                                                   \
    "uncommon words, once each, shuffled with three common words four times each (four-letter pseudo-words)",          \
    "the three common words in order of first appearance, joined by ','")

enum class TaskKind {
#define PELAB_TASK_ENUM(id, ...) id,
  PELAB_TASKS(PELAB_TASK_ENUM)
#undef PELAB_TASK_ENUM
};

struct TaskInfo {
  TaskKind kind;
  const char* name;
  const char* source;
  int64_t train_min, train_max;  // the default train range of L
  const char* test_lengths;      // the default test lengths, a comma list
  const char* length_means;
  const char* answer_means;
};

const std::vector<TaskInfo>& all_tasks();
const TaskInfo& task_info(TaskKind t);
// A name of all_tasks() (else an error listing them).
TaskKind parse_task(const std::string& name);
std::string task_names();  // "parity, modular-arithmetic, ..."

inline constexpr char kTaskSeparator = '=';
inline constexpr char kTaskEnd = '\n';

struct TaskExample {
  TaskKind task = TaskKind::PARITY;
  int64_t length = 0;  // L, as the task counts it
  std::string input, answer;
  std::string text() const { return input + kTaskSeparator + answer + kTaskEnd; }
};

// "" when an example of length L can be built, else why not (one sentence).
std::string task_length_problem(TaskKind t, int64_t L);
// The most bytes an example of length L may take (its text()).
int64_t task_max_bytes(TaskKind t, int64_t L);
// One example; an error when L cannot be built (task_length_problem).
TaskExample make_task_example(TaskKind t, int64_t L, Rng& rng);
// Its bytes with the answer mask (answer and '\n'), answer_offset and
// payload_length = L.
Example task_tokens(const TaskExample& ex);

// The train range [lo, hi] of L: an error names a range that is empty, below
// the task's shortest length, or whose longest example a row of `row_bytes`
// cannot hold. Lengths that cannot be built inside it (modular arithmetic's
// even ones) are skipped when drawing.
void check_task_range(TaskKind t, int64_t lo, int64_t hi, int64_t row_bytes);
// A training row of exactly `row_bytes` bytes packed with examples, L uniform
// over the buildable lengths of [lo, hi], from the row's first byte; the
// examples stop at the first drawn one that does not fit (so the placed ones
// keep the uniform distribution) and '\n' fills the tail, unscored.
Example make_task_row(TaskKind t, int64_t row_bytes, Rng& rng, int64_t lo, int64_t hi);

// What `pelab data prepare --task` splits: `docs` documents of whole examples
// (their text(), L uniform over the buildable lengths of [lo, hi]), each
// stopping before the first example that would pass `doc_bytes`, from
// Rng::stream(seed, 4). The splits record the task for `data info` and
// inspection; training draws fresh examples (BatcherOptions::has_task).
Corpus task_corpus(TaskKind t, int64_t lo, int64_t hi, int64_t docs, int64_t doc_bytes, uint64_t seed);

// task_corpus split by document with `split`, the task and its range recorded:
// what `pelab data prepare --task` writes and `pelab train --data.task` builds
// in memory (the same dataset, checksum included, for the same arguments).
inline constexpr int64_t kTaskDocs = 40;  // documents of a task dataset unless --task.docs says
Dataset make_task_dataset(TaskKind t, int64_t lo, int64_t hi, int64_t docs, int64_t doc_bytes, const SplitOptions& split);

}  // namespace pelab::data
