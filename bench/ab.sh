#!/usr/bin/env bash
# ab.sh — paired A/B timing of a CPU kernel (cp_linear, cp_conv2d or cp_mttkrp): the version at a git
# revision (default HEAD) against the working tree, on these noisy machines. Each side is its own
# process (so neither inherits the other's cache state); the two run back to back, in swapped order
# every round, and the ratio is taken per round, so drift of the machine over minutes cancels out.
#   bash bench/ab.sh cp_linear [rev] ["N r" ...]     768 -> 768, two threads (default: N 512/4096, r 8/16/32)
#   bash bench/ab.sh cp_conv2d [rev] [threads ...]   the bench shape 32x64x32x32, 3x3, r 8 (default: 2 threads);
#                                                    SHAPE="B r C H" times B x C x H x H, F = C, at rank r instead
#   bash bench/ab.sh cp_mttkrp [rev] ["dims r" ...]  every mode, ds, dots (default: "64x64x3x3 8", "768x768 32"),
#                                                    both versions in one process (bench/ab/cp_mttkrp_paired.cpp)
# Set DEBORA_SIMD=avx2 (or scalar) to time a lower SIMD level on the same machine; ACC=1 (cp_linear) accumulates
# into Y and dX, the path lib/nn's layers take (nothing streamed), instead of overwriting them as the bench does;
# ZNULL=1 (cp_linear) calls the backward without the forward's Z; DOTS=1 (cp_linear) asks it for dots.
# Needs build-cmake/ from npm run build:native. The loop programs are bench/ab/<op>_loop.cpp (cp_mttkrp: _paired).
set -euo pipefail
op=${1:-}
case "$op" in
  cp_linear) default_cases=("512 8" "512 16" "512 32" "4096 8" "4096 16" "4096 32"); cols="fwd bwd pair"
    hdrs=(cp_linear_kernels.inc stream.h) ;;
  cp_conv2d) default_cases=("2"); cols="fwd bwd pair"; hdrs=(cp_conv2d_kernels.h stream.h) ;;
  cp_mttkrp) default_cases=("64x64x3x3 8" "768x768 32"); cols=""
    hdrs=(cp_dense_kernels.h cp_dense_simd.h cp_dense_common.h) ;;
  *) echo "ab.sh: expected cp_linear, cp_conv2d or cp_mttkrp as the first argument, received '${op}'" >&2; exit 2 ;;
esac
shift
rev=${1:-HEAD}
shift || true
cases=("$@")
# SHAPE only means something to the conv loop.
shape=""
[ "$op" != cp_conv2d ] || shape=${SHAPE:-}
[ ${#cases[@]} -gt 0 ] || cases=("${default_cases[@]}")
root=$(git rev-parse --show-toplevel)
lib=$root/build-cmake/native/libdebora_native.a
[ -f "$lib" ] || { echo "ab.sh: $lib not found: run npm run build:native first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old"
# The op's sources at rev: the .cpp and the private kernel headers next to it.
for name in "$op".cpp "${hdrs[@]}"; do
  git -C "$root" show "$rev:native/cpu/$name" > "$tmp/old/$name" 2>/dev/null || rm -f "$tmp/old/$name"
done
[ -s "$tmp/old/$op.cpp" ] || { echo "ab.sh: native/cpu/$op.cpp not found at $rev" >&2; exit 1; }
inc=(-I"$root/native/include" -I"$root/native/cpu")
# The old sources include their own kernel header first (quoted includes look next to the source).
if [ "$op" = cp_mttkrp ]; then
  # Calls of 20-250 us: both versions in one process (bench/ab/cp_mttkrp_paired.cpp), the old one's namespace
  # renamed so its inline kernels stay distinct at link time.
  g++ -O3 -std=c++17 -w "${inc[@]}" -Ddense=dense_old -Ddebora_cp_mttkrp_cpu=old_mttkrp -c "$tmp/old/$op.cpp" -o "$tmp/old.o"
  g++ -O3 -std=c++17 -w "${inc[@]}" -c "$root/native/cpu/$op.cpp" -o "$tmp/new.o"
  g++ -O3 -std=c++17 "${inc[@]}" "$root/bench/ab/cp_mttkrp_paired.cpp" "$tmp/old.o" "$tmp/new.o" "$lib" -lpthread \
    -o "$tmp/run-both"
  echo "$op: $rev (old) vs working tree (new), in one process, 40 alternating blocks of 200 calls"
  for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    "$tmp/run-both" $c 40
  done
  exit 0
fi
g++ -O3 -std=c++17 -w "${inc[@]}" -Ddebora_${op}_fwd_cpu=old_fwd -Ddebora_${op}_bwd_cpu=old_bwd \
  -c "$tmp/old/$op.cpp" -o "$tmp/old.o"
g++ -O3 -std=c++17 -w "${inc[@]}" -c "$root/native/cpu/$op.cpp" -o "$tmp/new.o"
g++ -O3 -std=c++17 "${inc[@]}" -DOLD "$root/bench/ab/${op}_loop.cpp" "$tmp/old.o" "$lib" -lpthread -o "$tmp/run-old"
g++ -O3 -std=c++17 "${inc[@]}" "$root/bench/ab/${op}_loop.cpp" "$tmp/new.o" "$lib" -lpthread -o "$tmp/run-new"
echo "$op ($cols): $rev (old) vs working tree (new), 8 rounds of 0.6 s per side${shape:+, shape B r C H = $shape}"
for c in "${cases[@]}"; do
  o_all=""; n_all=""
  for round in 1 2 3 4 5 6 7 8; do
    # shellcheck disable=SC2086
    if [ $((round % 2)) = 1 ]; then o=$("$tmp/run-old" $c 0.6 $shape); n=$("$tmp/run-new" $c 0.6 $shape)
    else n=$("$tmp/run-new" $c 0.6 $shape); o=$("$tmp/run-old" $c 0.6 $shape); fi
    o_all="$o_all|$o"; n_all="$n_all|$n"
  done
  python3 - "$c" "$cols" "$o_all" "$n_all" <<'PY'
import statistics as st, sys
case, cols = sys.argv[1], sys.argv[2].split()
rows = lambda s: [[float(x) for x in r.split()] for r in s.split('|') if r.strip()]
o, n = rows(sys.argv[3]), rows(sys.argv[4])
for j, col in enumerate(cols):
    a, b = [r[j] for r in o], [r[j] for r in n]
    q = sorted(x / y for x, y in zip(a, b))
    print(f"{case} {col}: old {st.median(a):.4f} ms, new {st.median(b):.4f} ms; speedup per round: median {st.median(q):.2f}, quartiles {q[len(q)//4]:.2f}-{q[3*len(q)//4]:.2f}")
PY
done
