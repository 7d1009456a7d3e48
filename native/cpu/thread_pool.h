/* thread_pool.h — the one CPU thread pool every kernel shares (no thread creation per call).
 * parallel_for splits [0, n) into chunks run by the workers and the calling thread. A call
 * made while the pool is busy (another thread's kernel, or a nested call from inside a task)
 * runs serially on the caller instead of waiting: no deadlock, no oversubscription.
 * Tested in test/native/runtime.test.ts and by every multi-threaded op. */
#ifndef DEBORA_THREAD_POOL_H
#define DEBORA_THREAD_POOL_H

#include <cstdint>
#include <functional>

namespace debora {

/* Threads that run a parallel_for, the caller included (>= 1). */
int pool_size();
/* Joins the current workers and starts n - 1 new ones. Throws std::invalid_argument if n < 1. */
void pool_resize(int n);

/* Calls body(begin, end) on disjoint chunks covering [0, n), each at least min_chunk long
 * (except the last). Rethrows the first exception a chunk threw, after all chunks finished. */
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body);

}  // namespace debora

#endif
