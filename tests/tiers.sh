#!/usr/bin/env bash
# Every test tier, as `make test` runs them: the end-to-end tier (whole local stacks as processes, one
# after the other; mostly waiting on HTTP round trips) and after it the mutation sample run beside the
# parallel tiers (unit, integration, browser, sandbox, reliability on two workers), so both cores stay
# busy. That lane's output is shown when it ends; the exit status is the worse of the two lanes.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p .devstack
E2E_LOG=.devstack/e2e-tier.log
# The mutation sample (docs/testing.md) follows the e2e tier in the same lane: the lane is mostly
# waiting on HTTP, and the two together still end before the parallel tiers do.
( "$BIN/pytest" -q -p no:cacheprovider -m e2e "$@"; e2e_status=$?
  echo "---- mutation sample (a floor missed fails the run) ----"
  "$BIN/python" -m tests.mutation.score sample; sample_status=$?
  [ $e2e_status -eq 0 ] && [ $sample_status -eq 0 ] ) >"$E2E_LOG" 2>&1 &
e2e_pid=$!
trap 'kill $e2e_pid 2>/dev/null' INT TERM
"$BIN/pytest" -n 2 -q -p no:cacheprovider -m "not e2e" "$@"
parallel=$?
wait $e2e_pid
e2e=$?
echo "---- end-to-end tier (the local stack as processes), then the mutation sample ----"
cat "$E2E_LOG"
if [ $parallel -ne 0 ] || [ $e2e -ne 0 ]; then
  echo "tiers: parallel exit $parallel, e2e and mutation sample exit $e2e" >&2
  exit 1
fi
