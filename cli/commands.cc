// The registry of subcommands. A new subcommand is one entry here and one
// cmd_<name>.cc file holding its options and its run function.
#include "cli/cli.h"

namespace pelab::cli {

int run_version(Context&);
void decay_options(po::options_description_easy_init&);
int run_decay(Context&);
void bench_options(po::options_description_easy_init&);
int run_bench(Context&);
void data_options(po::options_description_easy_init&);
int run_data(Context&);
void train_command_options(po::options_description_easy_init&);
int run_train(Context&);
void eval_options(po::options_description_easy_init&);
int run_eval(Context&);
void analyze_options(po::options_description_easy_init&);
int run_analyze(Context&);
void sweep_options(po::options_description_easy_init&);
int run_sweep_command(Context&);
void reproduce_options(po::options_description_easy_init&);
int run_reproduce(Context&);
void report_options(po::options_description_easy_init&);
int run_report(Context&);

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"help", "list subcommands, or show one subcommand's options: pelab help SUBCOMMAND",
       "usage: pelab help [SUBCOMMAND]", {}, nullptr, nullptr},
      {"version", "print the version, code revision, libraries and usable devices", "usage: pelab version", {}, nullptr,
       run_version},
      {"decay", "theoretical decay curves of positional encodings (all-ones score, RoFormer bound, biases)",
       "usage: pelab decay --pe rope|xpos|alibi|sinusoidal|t5|kerple|none --head-dim D --heads H\n"
       "                   --max-distance N --out FILE.h5 [--print] [--plot FILE.png] [--pe.* ...]\n"
       "       pelab decay --min-base-for L1,L2,... [--head-dim D] [--min-base-per-decade G] [--json]\n\n"
       "Writes one HDF5 group per variant under /decay (docs/hdf5-schema.md). --pe, --pe.base,\n"
       "--pe.scaling and --pe.factor take comma lists; RoPE-family variants are their product.\n"
       "--min-base-for prints, instead, the RoPE base lower bound of arXiv 2405.14591 for each\n"
       "length: the smallest base on the grid 10^(k/G) keeping sum_i cos(m*theta_i) >= 0 for\n"
       "m = 0..L, next to the paper's Table 2 and fit (README.md \"RoPE base lower bound\").\n"
       "example: pelab decay --pe rope --pe.base 10000,500000 --head-dim 128 --max-distance 32768 \\\n"
       "                     --out decay.h5 --plot decay.png\n"
       "example: pelab decay --min-base-for 1024,4096,32768 --head-dim 128",
       {"pe"}, decay_options, run_decay},
      {"bench", "performance benchmarks, as ratios to the FMA peak and baselines measured in the same run: pelab bench attention|train|eval",
       "usage: pelab bench TOPIC [options]\n\n"
       "topics:\n"
       "  attention  CPU attention (flash or naive): GFLOP/s by the FlashAttention-2 convention, ratio to\n"
       "             the fp32 FMA peak measured in the same process, ratio to naive, peak RSS\n"
       "  train      training steps of a model config: tokens/s, model FLOP utilisation, time split\n"
       "  eval       the evaluation forward of a model config at long lengths: tokens/s, ratio to peak, RSS\n\n"
       "usage: pelab bench attention --seq N[,N...] [--head-dim D] [--heads H] [--batch B] [--causal]\n"
       "                             [--pe none|alibi] [--impl flash|naive] [--backward] [--threads T] [--json]\n\n"
       "First checks flash against the naive oracle (fp64) at N = --check-seq with the same D, H, mask and\n"
       "bias (and the backward with --backward), then times one line per N, variant and pass: forward\n"
       "4*N^2*D*H*B FLOPs (halved when causal), backward 2.5x forward, timed alone after a forward.\n"
       "--mask none,causal and --pe none,alibi time the variants interleaved (robust ratios on a busy\n"
       "machine). docs/performance.md explains every reported field.\n"
       "example: pelab bench attention --seq 1024,2048,4096 --head-dim 64 --heads 8 --causal --backward --json\n\n"
       "usage: pelab bench train --config FILE.ini [--pe ENC --pe.* --model.* --train.length/batch ...]\n"
       "                         [--impl flash|naive] [--steps N] [--threads T] [--json]\n\n"
       "Times optimizer steps (forward, backward, clipping, AdamW) of the configured model on random byte\n"
       "windows of --train.length, --train.batch rows: tokens/s, model GFLOP/s by 6*params + 12*L*C*T per\n"
       "token (PaLM/nanoGPT; attention not halved for the mask), MFU = that over the FMA peak measured in\n"
       "the same process, and the step split into matrix products, attention and the rest, with each\n"
       "phase's own GFLOP/s. [data] keys in the file are accepted and ignored (no data is read).\n"
       "example: pelab bench train --config experiments/configs/small.ini --json\n\n"
       "usage: pelab bench eval --config FILE.ini --lengths L1,L2,... [--batch-tokens N] [--threads T] [--json]\n\n"
       "Times the evaluation forward (what pelab eval runs) of the configured model on random bytes at each\n"
       "length: tokens/s, GFLOP/s by 2*params per token + attention 4*L^2*C per layer halved for the causal\n"
       "mask, the ratio to the FMA peak measured in the same process, and the peak RSS at that length.\n"
       "example: pelab bench eval --config experiments/configs/small.ini --lengths 256,4096,32768 --json",
       {"pe", "model", "train", "data"}, bench_options, run_bench, "topic"},
      {"data", "prepare byte-level token data from a corpus, or describe a prepared folder: pelab data prepare|info",
       "usage: pelab data prepare --corpus kjv|linux-c|gcide|PATH --out DIR [--data.* ...]\n"
       "       pelab data info --dir DIR\n\n"
       "prepare writes DIR/dataset.h5 (docs/hdf5-schema.md \"dataset.h5\"): byte tokens (vocabulary 256),\n"
       "document boundaries and names, split by whole documents into train/val/test. Corpora:\n"
       "  kjv      King James Bible, one document per book (apt-get install bible-kjv-text bible-kjv)\n"
       "  gcide    GCIDE dictionary, consecutive entries in documents of ~256 KiB (apt-get install dict-gcide)\n"
       "  linux-c  Linux 6.1 kernel/, mm/, lib/ *.c and *.h, one document per file\n"
       "           (apt-get install linux-source-6.1, 139 MB)\n"
       "  PATH     a folder (one document per file) or one text file (cut at blank lines, --data.doc-bytes)\n"
       "Split: the largest document goes to train; the others are shuffled with --data.split-seed; test,\n"
       "then val, take documents until they hold their fraction of the tokens (at least one each).\n"
       "info prints the corpus, source, split and per-split documents, tokens and checksums (verified).\n"
       "example: pelab data prepare --corpus kjv --out data/kjv && pelab data info --dir data/kjv",
       {"data"}, data_options, run_data, "action"},
      {"train", "train one byte-level causal LM on a prepared dataset, with checkpoints and resume: pelab train",
       "usage: pelab train --config FILE.ini [--pe ENC --pe.* --model.* --train.* --data.*] --data.dir DIR --out RUN\n"
       "       pelab train --resume RUN [--train.steps N | --train.tokens N] [--train.log-every ...]\n"
       "       pelab train --init-from RUN [--config FILE.ini] [--pe.scaling ... --train.* --data.*] --out NEW_RUN\n\n"
       "Trains on random windows of --train.length tokens of DIR's training split (pelab data prepare) with\n"
       "AdamW, warmup + cosine learning rate and gradient clipping. RUN holds config.ini (the resolved\n"
       "options), run.h5 (/train/step, loss, lr, grad_norm, tokens_per_s every step; /val/step, loss on a\n"
       "fixed set of validation windows every --train.eval-every steps), checkpoint.h5 (parameters, AdamW\n"
       "moments, step, batcher state; every --train.checkpoint-every steps and at the end) and log.txt\n"
       "(docs/hdf5-schema.md \"pelab train\"). Every file is written to a temporary name and renamed.\n"
       "--resume continues from the checkpoint bit for bit (same thread count); only --train.steps,\n"
       "--train.tokens, the logging cadence, --train.threads and --data.dir may differ from the saved\n"
       "configuration. --train.stop-at N stops early with a checkpoint (Ctrl-C does too). A NaN or inf\n"
       "loss stops with an error and keeps the last good checkpoint.\n"
       "--init-from RUN starts a new run from RUN's trained parameters (a fine-tune, e.g. Position\n"
       "Interpolation at a longer --train.length): RUN's configuration, then --config, then the command line;\n"
       "the model (--model.*, --pe, encoding settings with parameters) must stay RUN's, --train.*, --data.* and\n"
       "settings such as --pe.base/--pe.scaling/--pe.factor may change. AdamW, step, schedule and data order\n"
       "start fresh; config.ini records init-from.\n"
       "example: pelab train --config experiments/configs/tiny.ini --pe alibi --out runs/tiny-alibi",
       {"pe", "model", "train", "data"}, train_command_options, run_train},
      {"eval", "perplexity of a trained run at lengths far past its training length: pelab eval",
       "usage: pelab eval --run RUN --lengths L1,L2,... [--protocol nonoverlap|sliding|both] [--stride S]\n"
       "                  [--data.dir DIR --data.split val|test | --text FILE] [--eval.max-tokens N]\n"
       "                  [--pe.scaling linear|ntk|dynamic-ntk|ntk-by-parts|yarn|llama3 --pe.factor s ...]\n"
       "                  [--label NAME] [--json] [--plot FILE.png]\n\n"
       "Scores a text with the run's checkpoint at each length (arXiv 2108.12409's protocols, reference §6):\n"
       "  nonoverlap  consecutive chunks of L tokens, every token scored;\n"
       "  sliding     windows of L advancing by --stride S, only the last S tokens of each scored (the first\n"
       "              window whole). S = 1 costs one L-token forward per scored token.\n"
       "Every length scores the same tokens: the text is cut to a multiple of the longest length. Default\n"
       "text: the test split of the run's dataset. Eval-time variants change settings without parameters:\n"
       "RoPE/xPos --pe.base, --pe.scaling and --pe.factor (dynamic ones recomputed per length; the original\n"
       "length defaults to the training length), ALiBi --pe.alibi-distance-scale, T5 --pe.t5-max-distance.\n"
       "Results (perplexity, NLL in nats/byte, bits/byte, tokens, loss by position) go to the run's run.h5\n"
       "under /eval/<label>/<protocol>/ (docs/hdf5-schema.md \"pelab eval\"); the training data stays.\n"
       "example: pelab eval --run runs/tiny-rope --lengths 64,256,1024 --protocol both --stride 64",
       {"pe", "data"}, eval_options, run_eval},
      {"analyze", "attention of a trained run on real text at one length: decay, mass, entropy, resolution",
       "usage: pelab analyze --run RUN --length L [--windows K] [--data.dir DIR --data.split val|test | --text FILE]\n"
       "                     [--pe.* eval-time changes] [--label NAME] [--plot FILE.png]\n\n"
       "Runs the model on K windows of L tokens and measures its attention through the statistics pass\n"
       "(no L x L matrix): per layer and head the mean pre-softmax score and logit by distance (xPos's s^[n]),\n"
       "the attention mass by distance, the entropy by position, the mass on the diagonal and the q.k\n"
       "asymmetry; per layer the attention resolution R(s) (arXiv 2212.10554 eq. 3) and the oscillation\n"
       "index within the training length and over L; the encoding's theoretical curve beside them.\n"
       "Results go to run.h5 under /analyze/<label> (docs/hdf5-schema.md \"pelab analyze\").\n"
       "example: pelab analyze --run runs/tiny-rope --length 1024 --plot analyze.png",
       {"pe", "data"}, analyze_options, run_analyze},
      {"sweep", "train, evaluate and analyze every point of a sweep file, here or as a Slurm job array: pelab sweep",
       "usage: pelab sweep --config SWEEP.ini [--out DIR] [--seeds N] [--wait] [--jobs N] [--threads T]\n"
       "       pelab sweep --config SWEEP.ini --dry-run | --point K | --summarize\n"
       "       pelab sweep --config SWEEP.ini --emit-slurm DIR [--slurm.max-parallel M] [--slurm.cpus-per-task C]\n\n"
       "A sweep file (docs/sweeps.md; examples in experiments/sweeps/) names a base config, axes whose product\n"
       "gives the points ([axes] pe = rope, alibi), options of every training ([set]) and the evaluations and\n"
       "analyses of each trained point ([eval.LABEL], [analyze.LABEL]; lengths may be multiples of the\n"
       "training length: 4T). Each point is a run folder <out>/<axis-value_...> trained and evaluated by the\n"
       "same pelab commands a user would type (--dry-run prints them); finished trainings and existing result\n"
       "labels are skipped, interrupted trainings resume. Output of each point: <out>/logs/<point>.log.\n"
       "Afterwards <out>/summary.h5 and summary.md hold one row per point (--summarize rebuilds them).\n"
       "--seeds N (or seeds = N in the file) trains every point with train.seed = 1..N. Sweeps sharing run\n"
       "folders split the work: a point another live process runs is reported as running elsewhere (not a\n"
       "failure; --wait waits for it), and the summary is written by a sweep that saw every point done.\n"
       "--emit-slurm writes array.sbatch (one task per point, #SBATCH --array=0-K%M, each running\n"
       "pelab sweep --point $SLURM_ARRAY_TASK_ID), summary.sbatch (--summarize), submit.sh (the array, then\n"
       "the summary with --dependency=afterok) and manifest.tsv (each point's commands).\n"
       "example: pelab sweep --config experiments/sweeps/encodings-tiny.ini --jobs 2",
       {}, sweep_options, run_sweep_command, "", /*config_is_input=*/true},
      {"reproduce", "paper claims as runnable checks with verdicts: pelab reproduce --list | NAME | all | FILE.ini",
       "usage: pelab reproduce --list\n"
       "       pelab reproduce NAME|all|FILE.ini [--budget quick|full] [--seeds N] [--json] [--out DIR] [--jobs N]\n"
       "                       [--threads T] [--dry-run]\n\n"
       "Each claim (experiments/claims/NAME.ini, or a file of your own; docs/claims.md) names a paper, its claim\n"
       "and numbers, a recipe per budget (a sweep, seeds = N replicating every point over train.seed = 1..N)\n"
       "and a check. reproduce runs the recipe into <out>/NAME/<budget>/ (reusing finished runs), summarizes\n"
       "it, and decides each comparison of the check on the paired difference per seed (ln ppl for perplexities)\n"
       "with a 95% interval over seeds and resampled text blocks or probe trials:\n"
       "  a > b [by D]              holds when the interval lies beyond the minimum effect D (default 0.01 in\n"
       "                            ln ppl, 0.05 in accuracy), contradicted when it lies below it\n"
       "  equiv(a, b, margin=M)     holds when the 90% interval lies inside +-M, contradicted when wholly outside\n"
       "  require a >= x            a gate on point estimates: not met makes the verdict INCONCLUSIVE\n"
       "Holm corrects over a claim's comparisons. PASS: all hold; FAIL: one is contradicted; else INCONCLUSIVE.\n"
       "With one seed an interval covers evaluation noise only, and says so. <out>/verdicts.md collects the\n"
       "verdicts; --json prints one object per claim last. A FAIL or INCONCLUSIVE is a result: the exit status\n"
       "is 0 unless a run or a check could not be completed.\n"
       "example: pelab reproduce alibi-extrapolation --budget quick\n"
       "example: pelab reproduce my-claim.ini --seeds 5 --json",
       {}, reproduce_options, run_reproduce, "name"},
      {"report", "a markdown report with PNG + SVG plots of run, sweep and reproduce folders: pelab report",
       "usage: pelab report FOLDER... --out DIR\n\n"
       "Finds every run.h5 under the folders (runs of pelab train, sweeps, pelab reproduce) and writes\n"
       "DIR/report.md: per sweep (or claim) its verdict and summary tables, then figures as PNG and SVG\n"
       "(analysis/plot.py): training and validation loss, perplexity vs length with the loss by position\n"
       "for each evaluation label, and per run the measured mean score by distance over the encoding's\n"
       "theory and the attention mass by distance.\n"
       "example: pelab report runs/reproduce/alibi-extrapolation --out out/report",
       {}, report_options, run_report, "folders", false, /*positional_many=*/true},
  };
  return list;
}

}  // namespace pelab::cli
