#!/usr/bin/env bash
# Go native fuzzing: runs every Fuzz* target under server/ for DURATION each
# (a Go duration such as 5s or 10m, or Nx for N executions), one at a time,
# and stops at the first failure. The checked-in seed corpora live in
# <package>/testdata/fuzz/<FuzzName>/ and also run as ordinary tests in
# `go test`. A failure leaves the crashing input in that directory; commit it
# with the fix as a regression seed.
#   bash scripts/fuzz.sh 60s      (make fuzz)
#   bash scripts/fuzz.sh 5000x    (the short run in make test: a count, not a time)
set -euo pipefail

DURATION="${1:-60s}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
GO="${GO:-go}"
cd "$ROOT"

# "package FuzzName" for every fuzz target in server/ (a new target is picked up
# without editing this script).
mapfile -t targets < <(
  grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' server | sort |
  while read -r file; do
    grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' |
      while read -r name; do echo "./$(dirname "$file") $name"; done
  done
)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no fuzz targets found under server/" >&2
  exit 1
fi

passed=0
failed=0
for t in "${targets[@]}"; do
  pkg="${t% *}"
  name="${t#* }"
  corpus="$pkg/testdata/fuzz/$name"
  before="$(ls "$corpus" 2>/dev/null || true)"
  printf '\n== fuzz %s %s for %s\n' "$pkg" "$name" "$DURATION"
  log="$(mktemp)"
  ok=0
  for attempt in 1 2; do
    if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$DURATION" "$pkg" 2>&1 | tee "$log"; then
      ok=1
      break
    fi
    # Go's fuzzing coordinator can report a bare "context deadline exceeded"
    # when a time budget ends while a worker is mid-call (golang/go#75804): no
    # input failed and none is written. Run such a target once more; a real
    # finding always writes a new corpus entry and fails at once.
    new="$(comm -13 <(echo "$before") <(ls "$corpus" 2>/dev/null || true))"
    if [ "$attempt" -eq 1 ] && [ -z "$new" ] && grep -q 'context deadline exceeded' "$log" &&
      ! grep -qE 'Failing input written|panic:' "$log"; then
      echo "fuzz: $name stopped on the fuzzing engine's deadline race (no failing input); running it again"
      continue
    fi
    break
  done
  rm -f "$log"
  if [ "$ok" -eq 1 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    new="$(comm -13 <(echo "$before") <(ls "$corpus" 2>/dev/null || true) | sed "s|^|$corpus/|")"
    if [ -n "$new" ]; then
      echo "fuzz: $name in $pkg FAILED; new failing input (reproduce with go test -run '$name' $pkg):" >&2
      echo "$new" >&2
    else
      echo "fuzz: $name in $pkg FAILED (no new corpus entry: build or seed failure, see above)" >&2
    fi
    echo "fuzz: $passed passed, $failed failed"
    exit 1
  fi
done
echo "fuzz: $passed passed, $failed failed"
