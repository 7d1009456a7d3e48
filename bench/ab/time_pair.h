// time_pair.h — the timing loop shared by the bench/ab.sh programs (bench/ab/<op>_loop.cpp): runs
// fwd then bwd for `secs` seconds (at least 5 pairs, after 3 warm-up pairs) and prints the median ms
// of the forward, the backward and the pair on one line, the format ab.sh reads.
#ifndef DEBORA_BENCH_AB_TIME_PAIR_H
#define DEBORA_BENCH_AB_TIME_PAIR_H
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

template <class Fwd, class Bwd>
void time_pair(double secs, Fwd fwd, Bwd bwd) {
  using namespace std::chrono;
  for (int i = 0; i < 3; ++i) fwd(), bwd();
  std::vector<double> tf, tb, tp;
  const auto end = steady_clock::now() + duration<double>(secs);
  while (steady_clock::now() < end || tp.size() < 5) {
    const auto t0 = steady_clock::now();
    fwd();
    const auto t1 = steady_clock::now();
    bwd();
    const auto t2 = steady_clock::now();
    tf.push_back(duration<double, std::milli>(t1 - t0).count());
    tb.push_back(duration<double, std::milli>(t2 - t1).count());
    tp.push_back(duration<double, std::milli>(t2 - t0).count());
  }
  for (auto* t : {&tf, &tb, &tp}) std::sort(t->begin(), t->end());
  std::printf("%.4f %.4f %.4f\n", tf[tf.size() / 2], tb[tb.size() / 2], tp[tp.size() / 2]);
}
#endif
