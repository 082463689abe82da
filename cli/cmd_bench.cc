// `pelab bench TOPIC`: performance measurements reported as ratios measured in
// the same process (DESIGN.md "Numbers to reach", reference/performance.md §9).
//
// Topics: `attention` (bench_attention.cc: the CPU attention kernels),
// `train` (bench_train.cc: optimizer steps of a model config) and `eval`
// (bench_eval.cc: the evaluation forward at long lengths). A topic is the
// positional argument of the command; a new one is one entry in kTopics, its
// run function and the options it adds to bench_options().
#include <string>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "cli/bench_common.h"
#include "cli/cli.h"

namespace pelab::cli {

void bench_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("seq", po::value<std::string>(), "attention: sequence length N (queries = keys); a comma list gives one line per N (required)")
   ("head-dim", s("64"), "attention: head dimension D")
   ("heads", s("8"), "attention: number of heads H")
   ("batch", s("1"), "attention: batch size B")
   ("causal", po::bool_switch(), "attention: causal mask (FLOPs halved, FlashAttention-2 convention); short for --mask causal")
   ("mask", po::value<std::string>(), "attention: mask(s): none|causal, or none,causal to time both interleaved (default: none)")
   ("pe", s("none"), "attention: score bias(es) inside the kernel: none|alibi, or none,alibi to time both interleaved;\n"
                     "train: the model's encoding (usually from the config file's pe = ...)")
   ("impl", s("flash"), "attention implementation to time (train: the model's attention): flash|naive")
   ("device", s("cpu"), "attention: cpu|cuda (cuda: the CUDA kernels, a cuda-preset build and a GPU)")
   ("dtype", s("fp32"), "attention on cuda: fp32 (CUDA cores) | bf16 (tensor cores, forward only)")
   ("backward", po::bool_switch(), "attention: also time the backward pass (alone, after a forward)")
   ("threads", po::value<std::string>(), "OpenMP threads for the kernels and the FMA peak (default: all)")
   ("json", po::bool_switch(), "print one JSON object per line instead of a table")
   ("min-time", s("0.5"), "attention timing: after one warm-up run, repeat until this many seconds in total ...")
   ("min-repeats", s("3"), "... and at least this many runs; the best (min) time is reported")
   ("naive-limit-gb", s("4"), "attention: time the naive baseline only while B*H*N^2*8 bytes*3 is below this many GB (else null)")
   ("peak-time", s("0.2"), "seconds per trial of the FMA peak loop (best of 3, measured before and after)")
   ("check-seq", s("200"), "attention: N of the flash-vs-naive correctness check run before timing (B = 1)")
   ("steps", s("10"), "train: timed optimizer steps (after the warm-up steps); the mean step is reported")
   ("warmup-steps", s("2"), "train: untimed steps first (allocations, thread pool, caches)")
   ("lengths", po::value<std::string>(), "eval: sequence lengths, a comma list (required), e.g. 256,4096,32768")
   ("batch-tokens", s("16384"), "eval: rows per forward = max(1, this / length), as pelab eval batches");
}

namespace {

struct Topic {
  const char* name;
  int (*run)(Context&);
};

const Topic kTopics[] = {
    {"attention", bench_attention},
    {"train", bench_train},
    {"eval", bench_eval},
};

std::string topic_names() {
  std::vector<std::string> names;
  for (const auto& t : kTopics) names.push_back(t.name);
  return join(names, ", ");
}

}  // namespace

int run_bench(Context& ctx) {
  PELAB_CHECK(ctx.has("topic"), "missing bench topic; choose one of: " << topic_names(),
              "e.g. pelab bench attention --seq 1024 --head-dim 64");
  const std::string topic = ctx.str("topic");
  for (const auto& t : kTopics)
    if (topic == t.name) return t.run(ctx);
  PELAB_FAIL("unknown bench topic '" << topic << "'; choose one of: " << topic_names(), "run 'pelab help bench'");
}

}  // namespace pelab::cli
