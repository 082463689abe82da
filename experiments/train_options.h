// How a model is trained: the --train.* group as the training loop takes it.
#pragma once

#include <cstdint>

#include "model/optimizer.h"

namespace pelab {

struct TrainOptions {
  int64_t length = 256, batch = 16, steps = 1000;  // T, B, optimizer steps (the cosine schedule ends at steps)
  uint64_t seed = 1;                               // parameter initialisation and batch sampling
  double grad_clip = 1.0;                          // global-norm clipping, 0: none
  int64_t eval_every = 100, eval_batches = 16, checkpoint_every = 500, log_every = 10;
  int64_t stop_at = 0;  // > 0: stop after this step (with a checkpoint)
  int threads = 0;      // 0: all
  AdamWConfig adamw;
  LrSchedule schedule;
};

}  // namespace pelab
