#!/usr/bin/env bash
# Web client tests: type check, unit tests (api/WebSocket module, renderer),
# production build, then browser end-to-end tests with Debian's Chromium
# against the real binary on 127.0.0.1. Any failure fails the script; nothing
# is skipped. `make test-web` runs `npm ci` first; run alone, this script does it
# when node_modules is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/frontend"
export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export CHROMIUM
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

step() { printf '\n== %s\n' "$*"; }

cd "$WEB"
if [ ! -d node_modules ]; then
  step "installing frontend packages (npm ci)"
  npm ci --no-audit --no-fund
fi

if [ ! -x "$CHROMIUM" ]; then
  step "installing Debian's chromium for the browser tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  # Another apt/dpkg may be running (scripts/deps.sh): wait for the lock.
  for _ in $(seq 1 120); do
    if ! fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; then break; fi
    echo "waiting for the dpkg lock…"; sleep 5
  done
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
[ -x "$CHROMIUM" ] || { echo "FAIL: $CHROMIUM is missing; the browser tests cannot run" >&2; exit 1; }

step "type check (svelte-check + TypeScript)"
npm run --silent check

step "unit tests (vitest): api/WebSocket module and the message renderer"
npx vitest run --reporter=default --reporter=json --outputFile="$OUT/vitest.json"

step "production build (vite) into frontend/dist"
npm run --silent build
grep -q '<script type="module"' dist/index.html || { echo "FAIL: dist/index.html has no module script" >&2; exit 1; }
if grep -rEl 'https?://(fonts\.|cdn\.|unpkg|jsdelivr)' dist/index.html dist/assets/*.css >/dev/null 2>&1; then
  echo "FAIL: the build refers to a CDN; everything must be bundled" >&2; exit 1
fi

step "server with the real web UI: go build -tags webui -o bin/teamchat-web ."
(cd "$ROOT" && go build -tags webui -o bin/teamchat-web .)

step "browser end-to-end tests (node --test, playwright-core, $CHROMIUM)"
set +e
TEAMCHAT_BIN="$ROOT/bin/teamchat-web" node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$OUT/e2e.tap" e2e/
e2e_rc=$?
set -e

unit_pass=$(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests)' "$OUT/vitest.json")
unit_fail=$(node -e 'const r=require(process.argv[1]);console.log(r.numFailedTests)' "$OUT/vitest.json")
unit_skip=$(node -e 'const r=require(process.argv[1]);console.log((r.numPendingTests||0)+(r.numTodoTests||0))' "$OUT/vitest.json")
if [ "$unit_skip" -ne 0 ]; then echo "FAIL: $unit_skip unit tests were skipped" >&2; unit_fail=$((unit_fail + unit_skip)); fi
e2e_pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$OUT/e2e.tap" | tail -1)
e2e_fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$OUT/e2e.tap" | tail -1)
e2e_skipped=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$OUT/e2e.tap" | tail -1)
e2e_todo=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$OUT/e2e.tap" | tail -1)
: "${e2e_pass:=0}" "${e2e_fail:=0}" "${e2e_skipped:=0}" "${e2e_todo:=0}"
e2e_skip=$((e2e_skipped + e2e_todo))
if [ "$e2e_rc" -ne 0 ] && [ "$e2e_fail" -eq 0 ]; then e2e_fail=1; fi
if [ "$e2e_pass" -eq 0 ]; then echo "FAIL: no end-to-end test ran" >&2; e2e_fail=$((e2e_fail + 1)); fi
if [ "$e2e_skip" -ne 0 ]; then echo "FAIL: $e2e_skip end-to-end tests were skipped" >&2; e2e_fail=$((e2e_fail + e2e_skip)); fi

echo
echo "unit tests: $unit_pass passed, $unit_fail failed; end-to-end: $e2e_pass passed, $e2e_fail failed"
echo "screenshots: docs/screenshots/"
echo "web: $((unit_pass + e2e_pass)) passed, $((unit_fail + e2e_fail)) failed"
[ "$unit_fail" -eq 0 ] && [ "$e2e_fail" -eq 0 ]
