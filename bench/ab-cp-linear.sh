#!/usr/bin/env bash
# ab-cp-linear.sh — paired A/B timing of the cp_linear CPU kernels: the version at a git revision
# (default HEAD) against the working tree, on these noisy machines. Each side is its own process
# (so neither inherits the other's cache state); the two run back to back, in swapped order every
# round, and the ratio is taken per round, so drift of the machine over minutes cancels out.
#   bash bench/ab-cp-linear.sh [rev] ["N r" ...]      (needs build-cmake/ from npm run build:native)
set -euo pipefail
rev=${1:-HEAD}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=("512 8" "512 16" "512 32" "4096 8" "4096 16" "4096 32")
root=$(git rev-parse --show-toplevel)
lib=$root/build-cmake/native/libdebora_native.a
[ -f "$lib" ] || { echo "ab-cp-linear: $lib not found: run npm run build:native first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old"
git -C "$root" show "$rev:native/cpu/cp_linear.cpp" > "$tmp/old/cp_linear.cpp"
git -C "$root" show "$rev:native/cpu/cp_linear_kernels.inc" > "$tmp/old/cp_linear_kernels.inc"
inc=(-I"$root/native/include" -I"$root/native/cpu")
g++ -O3 -std=c++17 -w "${inc[@]}" -Ddebora_cp_linear_fwd_cpu=old_fwd -Ddebora_cp_linear_bwd_cpu=old_bwd \
  -c "$tmp/old/cp_linear.cpp" -o "$tmp/old.o"
g++ -O3 -std=c++17 -w "${inc[@]}" -c "$root/native/cpu/cp_linear.cpp" -o "$tmp/new.o"
g++ -O3 -std=c++17 "${inc[@]}" -DOLD "$root/bench/ab/cp_linear_loop.cpp" "$tmp/old.o" "$lib" -lpthread -o "$tmp/run-old"
g++ -O3 -std=c++17 "${inc[@]}" "$root/bench/ab/cp_linear_loop.cpp" "$tmp/new.o" "$lib" -lpthread -o "$tmp/run-new"
echo "cp_linear fwd+bwd, 768 -> 768, 2 threads: $rev (old) vs working tree (new), 8 rounds of 0.6 s per side"
for shape in "${shapes[@]}"; do
  o_all=""; n_all=""
  for round in 1 2 3 4 5 6 7 8; do
    # shellcheck disable=SC2086
    if [ $((round % 2)) = 1 ]; then o=$("$tmp/run-old" $shape 0.6); n=$("$tmp/run-new" $shape 0.6)
    else n=$("$tmp/run-new" $shape 0.6); o=$("$tmp/run-old" $shape 0.6); fi
    o_all="$o_all $o"; n_all="$n_all $n"
  done
  python3 - "$shape" "$o_all" "$n_all" <<'PY'
import statistics as st, sys
shape, o, n = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
r = sorted(a / b for a, b in zip(o, n))
print(f"N r = {shape}: old {st.median(o):.3f} ms, new {st.median(n):.3f} ms; speedup per round: median {st.median(r):.2f}, quartiles {r[len(r)//4]:.2f}-{r[3*len(r)//4]:.2f}")
PY
done
