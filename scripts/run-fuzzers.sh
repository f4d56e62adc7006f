#!/usr/bin/env bash
# Runs every built libFuzzer target for a bounded time, seeded from fuzz/corpus/<target>/.
# Usage: run-fuzzers.sh BUILD_DIR SECONDS_PER_TARGET
# Inputs up to 16 KiB: the GGUF seeds (fuzz/corpus/fuzz_gguf) reach 8.6 KiB.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
# The fuzz build's UBSan only prints by default; a report must fail the run.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for target in "$build"/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  work=$(mktemp -d)
  [ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/"
  echo "fuzz: $name for ${seconds}s"
  if ! (cd "$work" && "$target" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -print_final_stats=0 . >"$work/log" 2>&1); then
    echo "fuzz: $name FAILED"; tail -40 "$work/log"; status=1
  fi
  rm -rf "$work"
done
exit $status
