// scheduler.h: continuous batching: a queue of generation requests and one
// thread that runs them together on a BatchDecoder.
//
// What it teaches: a server cannot wait for one request to finish before it
// starts the next, nor run each on its own copy of the model. The scheduler
// keeps up to max_slots sequences in the decoder at once and, every step:
//   1. admits waiting requests into free slots (in arrival order);
//   2. builds ONE batch: a decode row (the last sampled token) for every
//      sequence that is generating, then prompt chunks for the sequences
//      still in prefill, up to a budget of rows per step. A long prompt thus
//      takes several steps and never delays the others by more than one
//      step's budget (chunked prefill);
//   3. runs one BatchDecoder::forward over all of it;
//   4. samples the next token of every sequence whose prompt is complete,
//      with that request's own Sampler, and streams its text;
//   5. retires finished or cancelled sequences, freeing their slots (and
//      caches) for the next step.
// Requests join and leave at token boundaries; no one waits for a batch to
// drain. Each request samples exactly as generate() (infer/generate.h) with
// the "stop" context policy, so a seed gives the same text as `cpurich sample`.
//
// Threads: submit()/cancel()/metrics() are called from HTTP threads; the
// decoder, samplers and text streams are touched by the scheduler thread only.
//
// Pipeline position: HTTP handlers -> [scheduler] -> batched decoder -> SSE / JSON.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "infer/batch_decoder.h"
#include "infer/generate.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// A request's state, shared by the HTTP thread that waits on it and the
/// scheduler thread that fills it.
class Job {
 public:
  /// Next event for the HTTP side: new text (may be empty when done), done.
  /// Waits up to `timeout_ms`; returns false on timeout with nothing new.
  bool wait(std::string& text, bool& done, int timeout_ms);
  /// Asks the scheduler to drop this sequence at the next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // Filled when done (read after wait() reported done):
  std::string finish_reason;  ///< "stop", "length", "context" or "cancelled"
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::string text;  ///< the whole completion (cut before a stop string)
  std::chrono::steady_clock::time_point submitted;  ///< for time to first token

 private:
  friend class Scheduler;
  void push(std::string_view piece, bool finished);
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string pending_;
  bool done_ = false;
  std::atomic<bool> cancelled_{false};
};

/// What one request asks for.
struct JobSpec {
  int32_t adapter = -1;  ///< BatchDecoder adapter id, -1 = base
  std::vector<int32_t> prompt;
  GenerateOptions options;  ///< sampler, max_new_tokens, stop (context policy: stop)
};

/// Sizes and limits of a Scheduler.
struct SchedulerOptions {
  int64_t max_queue = 64;      ///< waiting requests beyond the running batch
  int64_t prefill_chunk = 32;  ///< prompt rows one sequence brings to a step
};

/// Counters for /metrics (a snapshot).
struct SchedulerMetrics {
  int64_t requests_finished = 0;
  int64_t requests_cancelled = 0;
  int64_t tokens_generated = 0;
  int64_t prompt_tokens = 0;
  int64_t queue_length = 0;
  int64_t active = 0;           ///< sequences in the decoder
  int64_t last_batch_rows = 0;  ///< rows of the last forward
  int64_t steps = 0;
  double ttft_seconds_sum = 0.0;  ///< time to first token, summed over requests
  int64_t ttft_count = 0;
};

/// Thrown by submit when the queue is full (HTTP 429).
struct QueueFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Thrown by submit after shutdown started (HTTP 503).
struct ShuttingDown : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Scheduler {
 public:
  /// Starts the scheduler thread. The decoder and tokenizer must outlive it.
  Scheduler(BatchDecoder& decoder, const Tokenizer& tokenizer, const SchedulerOptions& options);
  /// drain(0): cancels everything still running and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Queues a request. Throws std::invalid_argument on an empty or too long
  /// prompt or bad options, QueueFull, ShuttingDown.
  std::shared_ptr<Job> submit(JobSpec spec);
  /// Stops accepting requests; lets the running and queued ones finish for
  /// up to grace_ms, then cancels the rest. Returns when the thread has ended.
  void drain(int grace_ms);
  SchedulerMetrics metrics() const;

 private:
  struct Running;
  void loop();
  void step(std::vector<Running>& running);
  void finish(Running& r, const std::string& reason);

  BatchDecoder& decoder_;
  const Tokenizer& tokenizer_;
  SchedulerOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<std::shared_ptr<Job>, JobSpec>> queue_;
  bool accepting_ = true;
  bool stop_ = false;
  int64_t active_ = 0;
  SchedulerMetrics metrics_;
  std::vector<int32_t> batch_ids_;  // scratch: the ids of one step's items
  std::thread thread_;
};

}  // namespace cpurich
