/* thread_pool.cpp — a fixed set of workers that claim chunks of a job with one compare-and-swap on a
 * word holding (generation, chunk count, next chunk), so uneven chunks balance and a worker late for
 * one job cannot take a chunk of the next. See thread_pool.h for the contract.
 * Waiting spins briefly before it blocks: waking a sleeping thread costs 20-60 µs on these VMs
 * (two 100 µs chunks took 120 µs back to back, 150-165 µs after a 200 µs pause), so a worker
 * joined a short job late. A worker that finished a job polls for the next one for kSpinWorker
 * (DEBORA_SPIN_US, default 100 µs), and the caller polls for the last chunk for twice that, before
 * sleeping on a condition variable. Publishing, claiming and finishing take no lock; the mutex is
 * only for going to sleep and being woken (see run() and work() for the handshakes). */
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace debora {
namespace {

thread_local bool t_inside_task = false;

/* DEBORA_SPIN_US (0 ... 100000, default 100): how long a worker polls for the next job; the caller
 * polls twice as long for the last chunk. 0 turns spinning off (for machines shared with other
 * busy processes). An unusable value keeps the default. */
std::chrono::microseconds spin_budget() {
  if (const char* env = std::getenv("DEBORA_SPIN_US")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (*env >= '0' && *env <= '9' && end != env && *end == '\0' && v >= 0 && v <= 100000)
      return std::chrono::microseconds(v);
  }
  return std::chrono::microseconds(100);
}
const std::chrono::microseconds kSpinWorker = spin_budget();
const std::chrono::microseconds kSpinCaller = 2 * kSpinWorker;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

/* Polls `ready` for up to `budget`; true as soon as it holds. */
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds budget) {
  if (budget.count() == 0) return ready();
  const auto end = std::chrono::steady_clock::now() + budget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= end) return false;
  }
}

int default_threads() {
  if (const char* env = std::getenv("DEBORA_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    bool digits = *env != '\0';
    for (const char* c = env; *c; ++c) digits = digits && *c >= '0' && *c <= '9';
    if (digits && end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
    /* An unusable value falls back to the default; the TS loader reports it as a warning. */
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

class Pool {
 public:
  Pool() : size_(default_threads()) { start(size_ - 1); }
  ~Pool() { stop(); }

  int size() const { return size_.load(std::memory_order_relaxed); }

  void resize(int n) {
    if (n < 1) throw std::invalid_argument("thread count must be >= 1");
    std::lock_guard<std::mutex> busy(busy_);
    stop();
    size_.store(n, std::memory_order_relaxed);
    start(n - 1);
  }

  void run(int64_t n_chunks, const std::function<void(int64_t)>& chunk) {
    /* Inside a task this thread may already own busy_: never try_lock it again (undefined for
     * std::mutex); a nested call just runs serially. So does a job too large for the claim word
     * (parallel_for never makes one: at most 4 chunks per thread). */
    if (t_inside_task || n_chunks == 1 || n_chunks > kMaxChunks) {
      for (int64_t c = 0; c < n_chunks; ++c) chunk(c);
      return;
    }
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty()) {
      for (int64_t c = 0; c < n_chunks; ++c) chunk(c);
      return;
    }
    /* Every chunk of the previous job was claimed and finished before its run() returned, so no
     * worker reads job_ or writes done_ / error_ until it claims a chunk of the job published here. */
    job_.store(&chunk, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    claim_.store(pack(next_generation(), n_chunks, 0), std::memory_order_seq_cst); /* publishes the fields above */
    /* A worker that went to sleep registered in sleepers_ before it last checked claim_ (both
     * seq_cst): either it saw the store above or it is counted here and gets woken. */
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lk(m_); }
      wake_.notify_all();
    }
    work();
    /* seq_cst, not acquire: after caller_waiting_ is stored below, this load and the last finisher's
     * load of caller_waiting_ form a store-load handshake, which only seq_cst orders (an acquire load may
     * be reordered before the store on AArch64 with RCpc: the caller could sleep with nobody to wake it). */
    auto all_done = [&] { return done_.load(std::memory_order_seq_cst) == n_chunks; };
    if (!spin_until(all_done, kSpinCaller)) {
      std::unique_lock<std::mutex> lk(m_);
      caller_waiting_.store(true, std::memory_order_seq_cst); /* read by the last finisher: see work() */
      finished_.wait(lk, all_done);
      caller_waiting_.store(false, std::memory_order_relaxed);
    }
    if (error_) { /* released here, on the caller's thread, not by whichever thread runs the next job */
      std::exception_ptr e = std::move(error_);
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

 private:
  /* claim_ packs the job's generation, its chunk count and the next unclaimed chunk into one word, so
   * a chunk is claimed by one compare-and-swap that also checks it belongs to the current job: a
   * worker arriving late for a finished job cannot take a chunk index of the next one. */
  static constexpr int kChunkBits = 16;
  static constexpr int64_t kMaxChunks = (int64_t{1} << kChunkBits) - 1;
  static constexpr uint64_t kGenMask = (uint64_t{1} << (64 - 2 * kChunkBits)) - 1;
  static uint64_t pack(uint64_t gen, int64_t n, int64_t next) {
    return gen << (2 * kChunkBits) | static_cast<uint64_t>(n) << kChunkBits | static_cast<uint64_t>(next);
  }
  static uint64_t gen_of(uint64_t c) { return c >> (2 * kChunkBits); }
  static int64_t n_of(uint64_t c) { return static_cast<int64_t>(c >> kChunkBits & kMaxChunks); }
  static int64_t next_of(uint64_t c) { return static_cast<int64_t>(c & kMaxChunks); }
  /* The generation after the current one. Only the holder of busy_ (run, or stop via resize and the
   * destructor) changes it; the workers' CASes change only the next-chunk field. */
  uint64_t next_generation() const { return (gen_of(claim_.load(std::memory_order_relaxed)) + 1) & kGenMask; }

  /* Claims and runs chunks of the current job until none is left. The hot path is lock-free: one
   * CAS per chunk and one increment of done_; on these VMs each hand-over of a cache line between
   * cores costs ~0.3 µs, and the lock-based version (a lock per worker per job, an active-worker
   * count) took 4.4 µs per empty two-thread job. */
  void work() {
    t_inside_task = true;
    uint64_t c = claim_.load(std::memory_order_acquire);
    for (;;) {
      const int64_t n = n_of(c), idx = next_of(c);
      if (idx >= n) break;
      if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      /* Holding an unfinished chunk of this job keeps it alive: job_ is this job's until done_ reaches n. */
      try {
        (*job_.load(std::memory_order_relaxed))(idx);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
      }
      /* The last finisher wakes a caller that stopped polling (it set caller_waiting_ under m_ before
       * its last check of done_; both sides seq_cst, so one of them sees the other). */
      if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == n &&
          caller_waiting_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lk(m_);
        finished_.notify_all();
      }
      c = claim_.load(std::memory_order_acquire);
    }
    t_inside_task = false;
  }

  void worker_loop() {
    uint64_t seen = gen_of(claim_.load(std::memory_order_acquire));
    for (;;) {
      auto published = [&] { return gen_of(claim_.load(std::memory_order_seq_cst)) != seen; };
      if (!spin_until(published, kSpinWorker)) {
        std::unique_lock<std::mutex> lk(m_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lk, [&] { return stopping_.load(std::memory_order_relaxed) || published(); });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen = gen_of(claim_.load(std::memory_order_acquire));
      work();
    }
  }

  void start(int n_workers) {
    stopping_.store(false);
    for (int i = 0; i < n_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_.store(true, std::memory_order_release);
      claim_.store(pack(next_generation(), 0, 0), std::memory_order_seq_cst);  // ends a spinning worker's poll
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::atomic<int> size_;  // read without busy_ by pool_size()
  std::vector<std::thread> workers_;
  std::mutex busy_;  // held for a whole job or resize
  std::mutex m_;     // for sleeping and waking only (and error_)
  std::condition_variable wake_, finished_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_waiting_{false};
  /* What workers poll and claim (written by the caller, once per job) on one cache line; the count of
   * finished chunks (written by every finisher) on another. */
  alignas(64) std::atomic<uint64_t> claim_{0};
  std::atomic<const std::function<void(int64_t)>*> job_{nullptr};
  alignas(64) std::atomic<int64_t> done_{0};
  std::exception_ptr error_;  // the first exception of the current job (under m_)
};

/* Never destroyed: at process exit a libuv thread may still be inside run() (an async op in
 * flight), and destroying the mutexes under it would crash. The OS reclaims the threads. */
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

int pool_size() { return pool().size(); }
void pool_resize(int n) { pool().resize(n); }

void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(min_chunk, 1);
  const int64_t threads = pool().size();
  /* A few chunks per thread so a slow core does not hold up the rest. */
  int64_t n_chunks = std::min<int64_t>(n / min_chunk, threads * 4);  // every chunk >= min_chunk
  n_chunks = std::max<int64_t>(n_chunks, 1);
  const int64_t step = (n + n_chunks - 1) / n_chunks;
  n_chunks = (n + step - 1) / step;
  pool().run(n_chunks, [&](int64_t c) { body(c * step, std::min(n, (c + 1) * step)); });
}

}  // namespace debora
