#include "experiments/train_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "model/optimizer.h"
#include "model/transformer.h"

namespace pelab {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

template <typename T>
bool all_finite(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

double validation_loss(Model& model, const ValSet& s, int64_t batch) {
  model.set_positions({});  // validation reads positions 0..T-1, as evaluation does
  double sum = 0;
  for (int64_t r = 0; r < s.rows; r += batch) {
    const int64_t b = std::min(batch, s.rows - r);
    const double mean = model.evaluate(s.inputs.data() + r * s.T, s.targets.data() + r * s.T, static_cast<int>(b),
                                       static_cast<int>(s.T));
    sum += mean * static_cast<double>(b);
  }
  return sum / static_cast<double>(s.rows);
}

// SIGINT/SIGTERM set a flag the loop checks after each step; restored on exit.
struct InterruptGuard {
  using Handler = void (*)(int);
  Handler old_int, old_term;
  InterruptGuard() {
    g_interrupted = 0;
    old_int = std::signal(SIGINT, on_interrupt);
    old_term = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
};

}  // namespace

ValSet make_val_set(const data::Split& val, int64_t rows, int64_t T) {
  ValSet s;
  s.rows = rows;
  s.T = T;
  if (rows == 0) return s;
  const int64_t N = val.num_tokens();
  PELAB_CHECK(N >= T + 1, "the validation split has " << N << " tokens, fewer than --train.length + 1 = " << T + 1,
              "prepare the data with a larger --data.val-fraction, shorten --train.length, or set --train.eval-batches 0");
  const int64_t span = N - T - 1;
  s.inputs.resize(rows * T);
  s.targets.resize(rows * T);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t start = rows == 1 ? 0 : i * span / (rows - 1);
    for (int64_t t = 0; t < T; ++t) {
      s.inputs[i * T + t] = val.tokens[start + t];
      s.targets[i * T + t] = val.tokens[start + t + 1];
    }
  }
  return s;
}

ValSet make_task_val_set(const data::BatcherOptions& opt, int64_t rows, uint64_t seed) {
  ValSet s;
  s.rows = rows;
  s.T = opt.length;
  const int64_t T = opt.length;
  s.inputs.resize(rows * T);
  s.targets.resize(rows * T);
  Rng rng = Rng::stream(seed, 5);
  for (int64_t i = 0; i < rows; ++i) {
    const data::Example ex = data::make_task_row(opt.task, T + 1, rng, opt.task_min, opt.task_max);
    for (int64_t t = 0; t < T; ++t) {
      s.inputs[i * T + t] = ex.tokens[t];
      s.targets[i * T + t] = ex.answer[t + 1] ? ex.tokens[t + 1] : -1;
    }
  }
  return s;
}

int run_training(const RunFolder& folder, const TrainJob& job, const data::Dataset& ds, TrainStart start) {
  const RunDescription& r = job.run;
  const TrainOptions& t = r.train;
  const int64_t B = t.batch, T = t.length;

  Model model(r.model);
  const int64_t n = model.num_params();
  AdamW<float> opt(n, model.layout().decay_mask(), t.adamw);
  data::Batcher batcher(ds.train, job.batcher);
  const ValSet val = job.batcher.has_task ? make_task_val_set(job.batcher, t.eval_batches * B, ds.split_options.seed)
                                          : make_val_set(ds.val, t.eval_batches * B, T);

  TrainLogs& logs = start.logs;
  std::string& log_text = start.log_text;
  auto log_line = [&](const std::string& line) { log_text += line + "\n"; };

  int64_t step = 0;
  const Checkpoint* ck = start.checkpoint;
  if (ck) {
    PELAB_CHECK(static_cast<int64_t>(ck->params.size()) == n && ck->m.size() == ck->params.size() &&
                    ck->v.size() == ck->params.size(),
                "checkpoint holds " << ck->params.size() << " parameters, the configured model has " << n,
                "the checkpoint does not belong to this configuration");
    std::copy(ck->params.begin(), ck->params.end(), model.params());
    opt.set_state(ck->m.data(), ck->v.data(), ck->optimizer_step);
    batcher.restore(data::BatcherState::from_ints(ck->batcher_state));
    step = ck->step;
    PELAB_CHECK(step <= t.steps, "the checkpoint is at step " << step << ", past --train.steps " << t.steps,
                "give --train.steps " << step << " or more to continue");
  } else if (start.init_params) {
    PELAB_CHECK(static_cast<int64_t>(start.init_params->size()) == n,
                "the --init-from checkpoint holds " << start.init_params->size() << " parameters, the configured model has "
                                                    << n,
                "keep the source run's --model.* and --pe settings");
    std::copy(start.init_params->begin(), start.init_params->end(), model.params());
  }
  int64_t stop = t.steps;
  if (t.stop_at > 0) stop = std::min(stop, std::max(t.stop_at, step));

  const std::string ckpt_path = folder.file(kCheckpointFile);
  int64_t last_ckpt = ck ? step : -1;
  double seconds = start.seconds;
  auto save_logs = [&](const std::string& status) {
    folder.write_train_logs(r, logs, step, status, seconds);
    folder.write_log(log_text);
  };
  // run.h5 first: it must never hold fewer steps than the checkpoint.
  auto checkpoint = [&](const std::string& status) {
    PELAB_CHECK(all_finite(model.params(), n) && all_finite(opt.m(), n) && all_finite(opt.v(), n),
                "training diverged at step " << step << ": the parameters hold NaN or inf",
                "lower --train.lr or set --train.grad-clip; the last good checkpoint (step " << last_ckpt
                                                                                             << ") is kept in " << ckpt_path);
    log_line("checkpoint step " + std::to_string(step));
    save_logs(status);
    CheckpointState cs;
    cs.step = step;
    cs.optimizer_step = opt.step();
    cs.batcher_state = batcher.state().to_ints();
    cs.seconds = seconds;
    cs.layout = &model.layout();
    cs.params = model.params();
    cs.m = opt.m();
    cs.v = opt.v();
    folder.write_checkpoint(r, cs);
    last_ckpt = step;
  };
  // at: the step whose update failed (its loss is logged under that step).
  auto diverged = [&](const std::string& what, double value, int64_t at) {
    log_line(what + " is " + fmt("%g", value) + " at step " + std::to_string(at) + "; stopped");
    save_logs("diverged");
    std::ostringstream hint;
    hint << "lower --train.lr or set --train.grad-clip and start a new run; ";
    if (last_ckpt >= 0) hint << "the last good checkpoint (step " << last_ckpt << ") is kept in " << ckpt_path;
    else hint << "no checkpoint was written";
    throw Error("training diverged: " + what + " is " + fmt("%g", value) + " at step " + std::to_string(at), hint.str());
  };
  auto run_eval = [&] {
    if (val.rows == 0) return;
    const double v = validation_loss(model, val, B);
    if (!std::isfinite(v)) diverged("the validation loss", v, step);
    logs.val_step.push_back(step);
    logs.val_loss.push_back(v);
    log_line("val step " + std::to_string(step) + " loss " + fmt("%.4f", v));
  };

  if (!ck) {
    log_line("pelab train: " + r.command_line);
    log_line("model " + r.model.pe.label() + " d_model " + std::to_string(r.model.d_model) + " layers " +
             std::to_string(r.model.n_layers) + " heads " + std::to_string(r.model.n_heads) + " parameters " +
             std::to_string(n) + "; T " + std::to_string(T) + " batch " + std::to_string(B) + " steps " +
             std::to_string(t.steps) + " threads " + std::to_string(r.threads));
    log_line("data " + (r.dataset_dir.empty() ? std::string("in memory") : r.dataset_dir) + " (" + r.dataset_corpus + ", " + r.dataset_checksum + ")");
    if (start.init_params)
      log_line("parameters from " + r.init_from + " (its checkpoint at step " + std::to_string(r.init_from_step) +
               "); AdamW moments, step, learning-rate schedule and data order start fresh");
    run_eval();
    checkpoint("running");
  } else {
    logs.resumed_at.push_back(step);
    log_line("resumed at step " + std::to_string(step) + " (steps " + std::to_string(t.steps) + ", threads " +
             std::to_string(r.threads) + "): " + r.command_line);
    if (ck->threads != r.threads)
      std::fprintf(stderr, "pelab train: note: the checkpoint was written with %lld threads, this run uses %d; "
                           "results will not be bit-identical to an uninterrupted run\n",
                   static_cast<long long>(ck->threads), r.threads);
    folder.write_log(log_text);
  }

  Progress progress("train", stop, job.quiet ? Progress::Mode::QUIET : Progress::Mode::AUTO);
  InterruptGuard guard;

  data::Batch batch;
  using Clock = std::chrono::steady_clock;
  while (step < stop && !g_interrupted) {
    batcher.next(B, batch);
    const auto t0 = Clock::now();
    const double lr = t.schedule(step);
    model.set_positions(batch.positions);  // empty unless --train.random-positions
    const float loss = model.forward(batch.inputs.data(), batch.targets.data(), static_cast<int>(B), static_cast<int>(T));
    if (!std::isfinite(loss)) {
      logs.step.push_back(step + 1), logs.loss.push_back(loss), logs.lr.push_back(lr);
      logs.grad_norm.push_back(NAN), logs.tokens_per_s.push_back(0);
      diverged("the training loss", loss, step + 1);
    }
    model.zero_grad();
    model.backward();
    failpoint("train:step");  // inside a step: forward and backward done, no update yet
    const double gn = clip_grad_norm(model.grads(), n, t.grad_clip);
    if (!std::isfinite(gn)) diverged("the gradient norm", gn, step + 1);
    opt.update(model.params(), model.grads(), lr);
    ++step;
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    seconds += dt;
    const double tps = static_cast<double>(B * T) / std::max(dt, 1e-9);
    logs.step.push_back(step), logs.loss.push_back(loss), logs.lr.push_back(lr);
    logs.grad_norm.push_back(gn), logs.tokens_per_s.push_back(tps);

    bool log_point = false;
    if (step % t.log_every == 0 || step == stop) {
      log_line("step " + std::to_string(step) + "/" + std::to_string(t.steps) + " loss " + fmt("%.4f", loss) + " lr " +
               fmt("%.3e", lr) + " grad_norm " + fmt("%.3f", gn) + " tokens/s " + fmt("%.0f", tps));
      log_point = true;
    }
    if (step % t.eval_every == 0 || step == t.steps) {
      run_eval();
      log_point = true;
    }
    const std::string status = step == t.steps ? "done" : "running";
    if (step % t.checkpoint_every == 0 || step == stop || g_interrupted) checkpoint(status);
    else if (log_point) save_logs(status);
    std::string extra = "loss " + fmt("%.3f", loss) + " lr " + fmt("%.2e", lr) + " " + fmt("%.0f", tps) + " tok/s";
    if (!logs.val_loss.empty()) extra += " val " + fmt("%.3f", logs.val_loss.back());
    progress.update(step, extra);
  }
  progress.finish();

  // Final numbers: the mean training loss of the last 10 steps, the last val loss.
  double train_loss = NAN, val_loss = NAN;
  {
    const size_t k = std::min<size_t>(10, logs.loss.size());
    if (k) {
      double sum = 0;
      for (size_t i = logs.loss.size() - k; i < logs.loss.size(); ++i) sum += logs.loss[i];
      train_loss = sum / static_cast<double>(k);
    }
    if (!logs.val_loss.empty()) val_loss = logs.val_loss.back();
  }
  const std::string status = step == t.steps ? "done" : (g_interrupted ? "interrupted" : "stopped");
  if (last_ckpt != step) checkpoint(status);
  log_line(status + " at step " + std::to_string(step) + ": train loss " + fmt("%.4f", train_loss) +
           " (mean of the last 10 steps), val loss " + fmt("%.4f", val_loss) + ", " + fmt("%.1f", seconds) +
           " s of training");
  save_logs(status);
  std::printf("%s  step %lld/%lld  train_loss %.4f  val_loss %.4f  time %.1fs  (%s)\n", folder.dir().c_str(),
              static_cast<long long>(step), static_cast<long long>(t.steps), train_loss, val_loss, seconds,
              status.c_str());
  if (g_interrupted) {
    std::fprintf(stderr, "pelab train: interrupted at step %lld; checkpoint written; continue with pelab train --resume %s\n",
                 static_cast<long long>(step), folder.dir().c_str());
    return 130;
  }
  return 0;
}

}  // namespace pelab
