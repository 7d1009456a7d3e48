/* thread_pool.cpp — a fixed set of workers woken per job by a generation counter; chunks are
 * claimed with an atomic counter so uneven chunks balance. See thread_pool.h for the contract.
 * Waiting spins briefly before it blocks: waking a sleeping thread costs 20-60 µs on these VMs
 * (two 100 µs chunks took 120 µs back to back, 150-165 µs after a 200 µs pause), so a worker
 * joined a short job late. A worker that finished a job polls for the next one for kSpinWorker
 * (DEBORA_SPIN_US, default 100 µs), and the caller polls for the last chunk for twice that, before
 * sleeping on the condition
 * variables as before (the spin only decides when to take the lock; every decision is still made
 * under it). */
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
     * std::mutex); a nested call just runs serially. */
    if (t_inside_task || n_chunks == 1) {
      for (int64_t c = 0; c < n_chunks; ++c) chunk(c);
      return;
    }
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty()) {
      for (int64_t c = 0; c < n_chunks; ++c) chunk(c);
      return;
    }
    {
      std::unique_lock<std::mutex> lk(m_);
      /* A worker that woke late for the previous job may still be inside work(): let it leave
       * before the counters are reset, or it could claim a chunk index of this job twice. */
      finished_.wait(lk, [&] { return active_ == 0; });
      job_ = &chunk;
      n_chunks_ = n_chunks;
      next_.store(0);
      done_.store(0);
      error_ = nullptr;
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    spin_until([&] { return done_.load() == n_chunks && active_.load() == 0; }, kSpinCaller);
    std::unique_lock<std::mutex> lk(m_);
    /* Wait for the chunks, and for every worker that joined, so `chunk` (a reference to the
     * caller's closure) is not used after run() returns. */
    finished_.wait(lk, [&] { return done_.load() == n_chunks_ && active_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    t_inside_task = true;
    for (;;) {
      int64_t c = next_.fetch_add(1);
      if (c >= n_chunks_) break;
      try {
        (*job_)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
      }
      if (done_.fetch_add(1) + 1 == n_chunks_) {
        std::lock_guard<std::mutex> lk(m_);
        finished_.notify_all();
      }
    }
    t_inside_task = false;
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return published_.load(std::memory_order_acquire) != seen; }, kSpinWorker);
      {
        std::unique_lock<std::mutex> lk(m_);
        wake_.wait(lk, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        ++active_;
      }
      work();
      std::lock_guard<std::mutex> lk(m_);
      if (--active_ == 0) finished_.notify_all();
    }
  }

  void start(int n_workers) {
    stopping_ = false;
    for (int i = 0; i < n_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
      ++generation_;  // ends a spinning worker's poll; the stale generation runs no chunk
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::atomic<int> size_;  // read without busy_ by pool_size()
  std::vector<std::thread> workers_;
  std::mutex busy_;  // held for a whole job or resize
  std::mutex m_;     // guards the fields below
  std::condition_variable wake_, finished_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  /* generation_ (or a bump at stop) for lock-free polling; changed only under m_. */
  std::atomic<uint64_t> published_{0};
  std::atomic<int> active_{0};  // workers inside work() for the current job (changed under m_)
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t n_chunks_ = 0;
  std::atomic<int64_t> next_{0}, done_{0};
  std::exception_ptr error_;
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
