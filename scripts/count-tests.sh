#!/usr/bin/env bash
# Sums the tests each suite's log reports; fails if a suite ran none or any failed.
# cargo test and wasm-bindgen-test-runner print "test result: ok. N passed; M failed";
# node --test prints "# pass N" and "# fail M".
set -eu
sum() { grep -oE "$1" "$2" | grep -oE '[0-9]+' | awk '{s += $1} END {print s + 0}'; }
total_pass=0 total_fail=0
for log in "$@"; do
  [ -f "$log" ] || { echo "count-tests: $log is missing: that suite did not run" >&2; exit 1; }
  pass=$(sum 'test result: [a-zA-Z]+\. [0-9]+ passed|^# pass [0-9]+' "$log")
  fail=$(sum '[0-9]+ failed|^# fail [0-9]+' "$log")
  echo "$(basename "$log" .log): $pass passed, $fail failed"
  [ "$pass" -gt 0 ] || { echo "count-tests: no test executed in $log" >&2; exit 1; }
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
