#!/usr/bin/env bash
# CTest (tests/CMakeLists.txt): `seedchip sweep` under `mpirun -n 2` writes the same --json, byte
# for byte, as one process, also with a shared --cost-cache and when one process reads the tables
# the two wrote, and for a fleet in shards; a bad sweep is reported once before any work; an error
# on one rank during the work ends the whole job with its message.
# Usage: sweep_mpi_test.sh SEEDCHIP MPIEXEC
set -euo pipefail

seedchip=$1
export MPIEXEC=$2
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Four points, two per rank, each with its own step table; h200 and h100-sxm take their step costs
# from the analytic model, so the whole test runs in seconds.
cat >"$dir/sweep.yaml" <<YAML
model: llama-3.1-70b
trace: azure-conv
requests: 200
points:
  chip: [h200, h100-sxm]
  chips: [4, 8]
YAML
# timeout: a job with a rank left waiting must fail the test, not hang it.
mpi() { timeout 300 "$here/../../scripts/mpirun-local.sh" 2 "$seedchip" sweep "$@"; }

"$seedchip" sweep "$dir/sweep.yaml" --json "$dir/single.json" >"$dir/single.out" 2>"$dir/single.err" ||
  fail "single-process sweep: $(cat "$dir/single.err")"
mpi "$dir/sweep.yaml" --json "$dir/mpi.json" >"$dir/mpi.out" 2>"$dir/mpi.err" ||
  fail "mpirun -n 2 sweep: $(cat "$dir/mpi.err")"
grep -q "on 2 processes" "$dir/mpi.out" || fail "not 2 processes: $(cat "$dir/mpi.out")"
grep -q '"tokens_per_s"' "$dir/single.json" || fail "no tokens_per_s in the JSON"
cmp "$dir/single.json" "$dir/mpi.json" || fail "mpirun -n 2 differs from one process"
# The tables match too, once the wall-time line is left out.
diff <(grep -v '^wall time' "$dir/single.out") <(grep -v '^wall time' "$dir/mpi.out") ||
  fail "the printed tables differ"

mpi "$dir/sweep.yaml" --cost-cache "$dir/cache" --json "$dir/mpi-cache.json" >/dev/null 2>&1 ||
  fail "mpirun -n 2 with a shared cost cache"
cmp "$dir/single.json" "$dir/mpi-cache.json" || fail "the shared cost cache changed the result"
[ "$(ls "$dir/cache" | wc -l)" -eq 4 ] || fail "expected 4 step tables in the cache"
"$seedchip" sweep "$dir/sweep.yaml" --cost-cache "$dir/cache" --json "$dir/cached.json" \
  >/dev/null 2>&1 || fail "one process reading the cached tables"
cmp "$dir/single.json" "$dir/cached.json" || fail "the cached tables changed the result"

# A bad key: one message, exit status 2, before any point runs.
printf 'model: llama-3.1-70b\ntrace: azure-conv\npoints: {chip: h200, chipz: 8}\n' >"$dir/bad.yaml"
status=0
mpi "$dir/bad.yaml" >"$dir/bad.out" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "bad sweep: exit status $status, expected 2: $(cat "$dir/bad.out")"
[ "$(grep -c "unknown key 'points.chipz'" "$dir/bad.out")" -eq 1 ] ||
  fail "bad sweep: expected the message once: $(cat "$dir/bad.out")"
grep -q "point 1/" "$dir/bad.out" && fail "bad sweep: a point ran"

# An error on rank 1 only: the table of point 3 (8 x h100-sxm, rank 1's) is corrupt.
table=$(grep -l "on h100-sxm (config [0-9a-f]*), TP 8," "$dir/cache"/*.json)
echo "{" >"$table"
status=0
mpi "$dir/sweep.yaml" --cost-cache "$dir/cache" >"$dir/abort.out" 2>&1 || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] ||
  fail "error on rank 1: exit status $status: $(cat "$dir/abort.out")"
grep -q "\[rank 1\] seedchip: error: .*not a cost table" "$dir/abort.out" ||
  fail "error on rank 1: no message: $(cat "$dir/abort.out")"
# A fleet of 8 h200 instances in 4 shards, two per rank: the same JSON as one process (that the
# shards under round-robin are the unsharded fleet is tests/serve/fleet/shards_test.cpp's).
printf 'pools:\n  - {chip: h200, instances: 8}\n' >"$dir/fleet.yaml"
printf 'model: llama-3.1-70b\ntrace: azure-conv\nrequests: 3000\nrate_scale: 8\nfleet: fleet.yaml\nshards: 4\nlatencies: exact\n' \
  >"$dir/fleet-sweep.yaml"
"$seedchip" sweep "$dir/fleet-sweep.yaml" --json "$dir/fleet-single.json" >"$dir/fleet-single.out" \
  2>&1 || fail "single-process fleet sweep: $(cat "$dir/fleet-single.out")"
mpi "$dir/fleet-sweep.yaml" --json "$dir/fleet-mpi.json" >"$dir/fleet-mpi.out" 2>&1 ||
  fail "mpirun -n 2 fleet sweep: $(cat "$dir/fleet-mpi.out")"
grep -q "on 2 processes" "$dir/fleet-mpi.out" || fail "fleet: not 2 processes"
grep -q '"finished"' "$dir/fleet-single.json" || fail "fleet: no figures in the JSON"
cmp "$dir/fleet-single.json" "$dir/fleet-mpi.json" || fail "fleet: mpirun -n 2 differs from one process"
echo "PASS"
