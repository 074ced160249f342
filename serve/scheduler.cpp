// scheduler.cpp: the continuous-batching loop (see scheduler.h).
#include "serve/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "infer/sampling.h"
#include "infer/stop_strings.h"

namespace cpurich {

using Clock = std::chrono::steady_clock;

bool Job::wait(std::string& text, bool& done, int timeout_ms) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return done_ || !pending_.empty(); });
  text.swap(pending_);
  pending_.clear();
  done = done_;
  return done || !text.empty();
}

void Job::push(std::string_view piece, bool finished) {
  {
    std::lock_guard lock(mutex_);
    pending_.append(piece);
    done_ = done_ || finished;
  }
  cv_.notify_all();
}

// A sequence in the decoder: its request, sampler and text so far.
struct Scheduler::Running {
  std::shared_ptr<Job> job;
  JobSpec spec;
  int64_t slot = -1;
  Sampler sampler;
  TextStream stream;
  size_t fed = 0;     // prompt tokens sent to the decoder so far
  int32_t last = -1;  // the newest sampled token, not yet in the cache
  int64_t generated = 0;
  bool finished = false;
};

Scheduler::Scheduler(BatchDecoder& decoder, const Tokenizer& tokenizer,
                     const SchedulerOptions& options)
    : decoder_(decoder), tokenizer_(tokenizer), options_(options) {
  if (options.max_queue < 0 || options.prefill_chunk < 1)
    throw std::invalid_argument("scheduler: max_queue must be >= 0 and prefill_chunk >= 1");
  batch_ids_.reserve(static_cast<size_t>(decoder.options().max_rows));
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  drain(0);
}

std::shared_ptr<Job> Scheduler::submit(JobSpec spec) {
  const int64_t P = decoder_.config().n_positions;
  if (spec.prompt.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  if (static_cast<int64_t>(spec.prompt.size()) > P)
    throw std::invalid_argument("the prompt has " + std::to_string(spec.prompt.size()) +
                                " tokens but the model's context holds " + std::to_string(P));
  if (spec.options.max_new_tokens < 1) throw std::invalid_argument("max_tokens must be >= 1");
  spec.options.sampler.validate(decoder_.config().vocab_size);
  if (spec.adapter < -1 || spec.adapter >= decoder_.num_adapters())
    throw std::invalid_argument("unknown adapter id " + std::to_string(spec.adapter));
  auto job = std::make_shared<Job>();
  job->prompt_tokens = static_cast<int64_t>(spec.prompt.size());
  job->submitted = Clock::now();
  {
    std::lock_guard lock(mutex_);
    if (!accepting_) throw ShuttingDown("the server is shutting down");
    const int64_t free = decoder_.options().max_slots - active_;
    if (static_cast<int64_t>(queue_.size()) >= options_.max_queue + std::max<int64_t>(free, 0))
      throw QueueFull("too many requests waiting (" + std::to_string(queue_.size()) + ")");
    queue_.emplace_back(job, std::move(spec));
  }
  cv_.notify_all();
  return job;
}

void Scheduler::drain(int grace_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
  {
    std::unique_lock lock(mutex_);
    accepting_ = false;
    while ((active_ > 0 || !queue_.empty()) && Clock::now() < deadline) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      lock.lock();
    }
    stop_ = true;  // the loop cancels whatever is left, then returns
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SchedulerMetrics Scheduler::metrics() const {
  std::lock_guard lock(mutex_);
  SchedulerMetrics m = metrics_;
  m.queue_length = static_cast<int64_t>(queue_.size());
  m.active = active_;
  return m;
}

void Scheduler::loop() {
  std::vector<Running> running;
  running.reserve(static_cast<size_t>(decoder_.options().max_slots));
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty() || !running.empty(); });
      // stop_: every request still here is cancelled (drain() already gave
      // them their grace period).
      if (stop_) {
        for (auto& [job, spec] : queue_) job->cancel();
        for (Running& r : running) r.job->cancel();
      }
      while (!queue_.empty() && decoder_.free_slots() > 0) {  // admit, in arrival order
        auto [job, spec] = std::move(queue_.front());
        queue_.pop_front();
        if (job->cancelled()) {
          job->finish_reason = "cancelled";
          ++metrics_.requests_cancelled;
          job->push("", true);
          continue;
        }
        const int64_t slot = decoder_.open(spec.adapter);
        Sampler sampler(spec.options.sampler, decoder_.config().vocab_size);
        TextStream stream(spec.options.stop);
        running.push_back(Running{.job = std::move(job),
                                  .spec = std::move(spec),
                                  .slot = slot,
                                  .sampler = std::move(sampler),
                                  .stream = std::move(stream)});
      }
      active_ = static_cast<int64_t>(running.size());
      if (stop_ && running.empty() && queue_.empty()) return;
    }
    if (!running.empty()) step(running);
    std::erase_if(running, [](const Running& r) { return r.finished; });
    std::lock_guard lock(mutex_);
    active_ = static_cast<int64_t>(running.size());
  }
}

void Scheduler::finish(Running& r, const std::string& reason) {
  const auto rest = r.stream.take_rest();
  r.job->text = r.stream.text();
  r.job->finish_reason = reason;
  r.job->completion_tokens = r.generated;
  decoder_.close(r.slot);
  r.finished = true;
  {
    std::lock_guard lock(mutex_);
    if (reason == "cancelled")
      ++metrics_.requests_cancelled;
    else
      ++metrics_.requests_finished;
  }
  r.job->push(rest, true);
}

// One step: build the batch, one forward, then sample for every sequence
// whose prompt is complete.
void Scheduler::step(std::vector<Running>& running) {
  for (Running& r : running)
    if (r.job->cancelled()) finish(r, "cancelled");
  const int64_t budget = decoder_.options().max_rows;
  std::vector<BatchItem> items;
  items.reserve(running.size());
  batch_ids_.clear();
  int64_t rows = 0;
  // Decode rows first (one each), then prompt chunks with what is left: a
  // new prompt never delays the sequences already generating.
  std::vector<size_t> chunk(running.size(), 0);  // rows each sequence brings
  for (size_t i = 0; i < running.size(); ++i) {
    Running& r = running[i];
    if (r.finished || r.fed < r.spec.prompt.size() || rows >= budget) continue;
    chunk[i] = 1;
    batch_ids_.push_back(r.last);
    items.push_back({.slot = r.slot, .ids = {&batch_ids_.back(), 1}});
    ++rows;
  }
  for (size_t i = 0; i < running.size(); ++i) {
    Running& r = running[i];
    if (r.finished || r.fed >= r.spec.prompt.size() || rows >= budget) continue;
    const auto n = static_cast<size_t>(
        std::min<int64_t>({options_.prefill_chunk, budget - rows,
                           static_cast<int64_t>(r.spec.prompt.size() - r.fed)}));
    items.push_back({.slot = r.slot, .ids = std::span(r.spec.prompt).subspan(r.fed, n)});
    chunk[i] = n;
    rows += static_cast<int64_t>(n);
  }
  if (items.empty()) return;
  decoder_.forward(items);
  {
    std::lock_guard lock(mutex_);
    ++metrics_.steps;
    metrics_.last_batch_rows = rows;
  }
  // As generate(): ids the tokenizer cannot decode are never sampled.
  const auto usable = std::min<size_t>(static_cast<size_t>(tokenizer_.vocab_size()),
                                       static_cast<size_t>(decoder_.config().vocab_size));
  std::vector<float> logits(static_cast<size_t>(decoder_.config().vocab_size));
  for (size_t i = 0; i < running.size(); ++i) {
    Running& r = running[i];
    if (r.finished) continue;
    if (chunk[i] == 0) continue;  // not in this step (over budget)
    if (r.fed < r.spec.prompt.size()) {
      r.fed += chunk[i];
      std::lock_guard lock(mutex_);
      metrics_.prompt_tokens += static_cast<int64_t>(chunk[i]);
      if (r.fed < r.spec.prompt.size()) continue;  // more prompt to go
    }
    const auto l = decoder_.logits(r.slot);
    std::copy(l.begin(), l.end(), logits.begin());
    std::fill(logits.begin() + static_cast<std::ptrdiff_t>(usable), logits.end(), -INFINITY);
    const int32_t token = r.sampler.next(logits, decoder_.tokens(r.slot));
    r.last = token;
    ++r.generated;
    {
      std::lock_guard lock(mutex_);
      ++metrics_.tokens_generated;
      if (r.generated == 1) {
        metrics_.ttft_seconds_sum +=
            std::chrono::duration<double>(Clock::now() - r.job->submitted).count();
        ++metrics_.ttft_count;
      }
    }
    r.stream.append(tokenizer_.decode(std::span<const int32_t>(&token, 1)));
    if (r.stream.stopped()) {
      finish(r, "stop");
    } else if (r.generated >= r.spec.options.max_new_tokens) {
      finish(r, "length");
    } else if (decoder_.remaining(r.slot) == 0) {
      finish(r, "context");
    } else {
      const auto ready = r.stream.take_ready();
      if (!ready.empty()) r.job->push(ready, false);
    }
  }
}

}  // namespace cpurich
