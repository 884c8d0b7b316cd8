#!/usr/bin/env bash
# Desktop app and LAN discovery tests (issue 5), run by `make test-desktop`.
#
#  1. Host mode under Xvfb on 127.0.0.1 with --no-mdns: the first-run setup page
#     (screenshot), the class created by typing into the window (xdotool), the
#     console page reaching the server's WebSocket (screenshot), a second
#     instance on the same data dir refused, SIGTERM and SIGINT closing cleanly.
#  2. LAN discovery between two network namespaces joined by a veth pair: the
#     server announces in A; in B, `teamchat discover --json` and avahi-browse
#     (Debian's independent mDNS stack) see the same name, host, address, port
#     and TXT records.
#  3. Client mode (`teamchat join`) under Xvfb in B lists the class (screenshot)
#     and opens it.
#  4. The same class with --tls announces tls=1 fp=<certificate SHA-256>; client
#     mode in B opens it through its pinned proxy (screenshot
#     desktop-join-tls.png; the connection B→A:8080 and the proxy are checked).
#  5. A's veth address changes under the announcing server (sleep, new DHCP
#     lease): within 30 s discover and avahi-browse in B see only the new
#     address; the delay is printed as a FIGURE line.
#
# mDNS runs only inside the namespaces created here, never on the machine's
# own interfaces. Needs root (namespaces), Xvfb, xdotool, ImageMagick, avahi,
# dbus, python3 and curl; a missing capability is a failure, never a skip.
# Synchronization polls conditions with deadlines; no fixed sleeps.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=/usr/local/go/bin:$PATH GOFLAGS=-buildvcs=false
export DBUS_SESSION_BUS_ADDRESS=disabled: NO_AT_BRIDGE=1
unset WAYLAND_DISPLAY

PASSED=0
FAILED=0
pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
note() { echo "  .. $*"; }
summary() { echo "desktop: $PASSED passed, $FAILED failed"; }

WORK=$(mktemp -d /tmp/teamchat-desktop.XXXXXX)
RUN=$$
NS_A=tca$RUN
NS_B=tcb$RUN
VETH_A=tcva$RUN
VETH_B=tcvb$RUN
NET="10.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))"
IP_A=$NET.1
IP_B=$NET.2
PIDS=()
NS_MADE=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait_exit "$p" 10 || kill -9 "$p" 2>/dev/null
	done
	if [ "$NS_MADE" = 1 ]; then
		ip netns del "$NS_A" 2>/dev/null
		ip netns del "$NS_B" 2>/dev/null
	fi
	if [ "${KEEP_WORK:-}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap 'cleanup; summary' EXIT
trap 'exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------

# wait_until SECONDS CMD...: polls CMD until it succeeds or the deadline passes.
wait_until() {
	local secs=$1
	shift
	local end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	"$@" >/dev/null 2>&1
}

# wait_exit PID SECONDS: waits for a child to exit; its exit code goes to
# EXIT_CODE. Fails if it is still running at the deadline.
EXIT_CODE=
wait_exit() {
	local pid=$1 end=$((SECONDS + $2))
	EXIT_CODE=
	while kill -0 "$pid" 2>/dev/null; do
		if [ $SECONDS -ge $end ]; then
			return 1
		fi
		sleep 0.2
	done
	EXIT_CODE=0
	wait "$pid" 2>/dev/null || EXIT_CODE=$?
	return 0
}

log_has() { grep -q -- "$2" "$1"; }

# stddev FILE: ImageMagick's standard deviation of the image (0 = blank).
stddev() { /usr/bin/convert "$1" -format '%[fx:standard_deviation]' info: 2>/dev/null; }

not_blank() { awk -v s="$(stddev "$1")" 'BEGIN { exit !(s > 0.02) }'; }

screenshot() { DISPLAY=:$DISP import -window root "$1" 2>/dev/null && not_blank "$1"; }

# differs A B: the two screenshots are clearly different.
differs() {
	local d
	d=$(/usr/bin/compare -metric RMSE "$1" "$2" null: 2>&1 | sed -n 's/.*(\(.*\)).*/\1/p')
	awk -v d="${d:-0}" 'BEGIN { exit !(d > 0.02) }'
}

# stable_shot OUT SECONDS [OTHER]: waits until the screen shows a non-blank
# picture that no longer changes (and differs from OTHER, if given); saves it.
stable_shot() {
	local out=$1 end=$((SECONDS + $2)) other=${3:-} a=$WORK/stable-a.png b=$WORK/stable-b.png
	screenshot "$a"
	while [ $SECONDS -lt $end ]; do
		sleep 0.3
		screenshot "$b" || continue
		if ! differs "$a" "$b" && { [ -z "$other" ] || differs "$other" "$b"; }; then
			cp "$b" "$out"
			return 0
		fi
		cp "$b" "$a"
	done
	return 1
}

# window_of PID: the visible Team Chat window of a process.
window_of() { DISPLAY=:$DISP xdotool search --all --onlyvisible --pid "$1" --name '^Team Chat' 2>/dev/null | head -1; }

tail_log() {
	echo "  ---- last lines of $1"
	tail -n "${2:-15}" "$1" | sed 's/^/  | /'
}

# ---- capabilities ----------------------------------------------------------

need_fail=0
require() {
	if ! command -v "$1" >/dev/null 2>&1; then
		fail "missing $1 ($2)"
		need_fail=1
	fi
}
if [ "$(id -u)" -ne 0 ]; then
	fail "not root: network namespaces and veth pairs need root (CI runs this as root)"
	exit 1
fi
if ! command -v xdotool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
	echo "== installing xdotool (types into the window under Xvfb)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xdotool >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xdotool >/dev/null 2>&1; }
fi
require go "the Go toolchain"
require ip "iproute2: network namespaces"
require unshare "util-linux: private host names and mounts"
require Xvfb "xvfb: a display for the window"
require xdotool "xdotool: typing into the window"
require import "imagemagick: screenshots"
require /usr/bin/convert "imagemagick: screenshot statistics"
require /usr/bin/compare "imagemagick: screenshot comparison"
require avahi-daemon "avahi-daemon: the independent mDNS browser"
require avahi-browse "avahi-utils: the independent mDNS browser"
require dbus-daemon "dbus: avahi's bus"
require python3 "python3: parsing browser output"
require curl "curl: /healthz"
pkg-config --exists webkit2gtk-4.1 gtk+-3.0 2>/dev/null || { fail "libwebkit2gtk-4.1-dev/libgtk-3-dev missing (make deps)"; need_fail=1; }
[ $need_fail = 0 ] || exit 1
if ! ip netns add "$NS_A" 2>"$WORK/netns.err"; then
	fail "cannot create a network namespace: $(cat "$WORK/netns.err")"
	exit 1
fi
NS_MADE=1

# ---- build -----------------------------------------------------------------

BIN=$WORK/teamchat
echo "== building the desktop binary"
if [ ! -f frontend/dist/index.html ]; then
	echo "   (frontend/dist missing: building the web client first)"
	if ! make -s web >"$WORK/web.log" 2>&1; then
		fail "building the web client (make web)"
		tail_log "$WORK/web.log"
		exit 1
	fi
fi
if ! go build -tags desktop,production,webkit2_41,webui -o "$BIN" . 2>"$WORK/build.log"; then
	fail "go build -tags desktop,production,webkit2_41,webui"
	tail_log "$WORK/build.log"
	exit 1
fi
pass "desktop binary builds (tags desktop,production,webkit2_41,webui)"

# ---- display ---------------------------------------------------------------

# Xvfb picks a free display and writes its number to fd 5. The screen has the
# window's size, so screenshots of the root window show just the app.
Xvfb -displayfd 5 -screen 0 1200x780x24 -nolisten tcp 5>"$WORK/display" 2>"$WORK/xvfb.log" &
PIDS+=($!)
if ! wait_until 15 test -s "$WORK/display"; then
	fail "Xvfb did not start"
	tail_log "$WORK/xvfb.log"
	exit 1
fi
DISP=$(tr -dc '0-9' <"$WORK/display")
note "Xvfb on :$DISP"
mkdir -p docs/screenshots

# ---- 1. host mode ----------------------------------------------------------

DATA=$WORK/data
HOST_LOG=$WORK/host1.log
HOST_PID=
start_host() { # LOGFILE: host mode on 127.0.0.1, no mDNS; sets HOST_PID
	DISPLAY=:$DISP "$BIN" --no-mdns --addr 127.0.0.1:18480 --data "$DATA" >"$1" 2>&1 &
	HOST_PID=$!
	PIDS+=("$HOST_PID")
}
host_port() { sed -n 's/.*msg=listening addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | tail -1; }
healthz() { curl -fsS --max-time 2 "http://127.0.0.1:$1/healthz"; }

CLASS="Physics 101"
SETUP_OK=0
test_first_run() {
	start_host "$HOST_LOG"
	if ! wait_until 30 log_has "$HOST_LOG" 'msg="window page" phase=setup'; then
		fail "first run: the window did not show the setup page"
		tail_log "$HOST_LOG"
		return
	fi
	if ! stable_shot "$WORK/setup.png" 20; then
		fail "first run: the screenshot of the setup page is blank or never settles"
		return
	fi
	cp "$WORK/setup.png" docs/screenshots/desktop-setup.png
	pass "first run shows the setup page (docs/screenshots/desktop-setup.png, stddev $(stddev "$WORK/setup.png"))"

	# Type the form the way the professor does: class name (focused), your
	# name, username, password, Enter.
	local wid
	wid=$(window_of "$HOST_PID")
	if [ -z "$wid" ]; then
		fail "first run: no visible window of the host process"
		return
	fi
	(
		export DISPLAY=:$DISP
		xdotool windowfocus --sync "$wid" &&
			xdotool type --delay 15 "$CLASS" && xdotool key Tab &&
			xdotool type --delay 15 "Ada Lovelace" && xdotool key Tab &&
			xdotool type --delay 15 "prof" && xdotool key Tab &&
			xdotool type --delay 15 "correct horse battery" && xdotool key Return
	) || {
		fail "first run: xdotool could not type into the window"
		return
	}
	if ! wait_until 30 log_has "$HOST_LOG" 'msg="class set up" admin=prof'; then
		fail "first run: the class was not created from the window"
		tail_log "$HOST_LOG"
		return
	fi
	local port
	port=$(host_port "$HOST_LOG")
	if [ -z "$port" ] || ! wait_until 20 healthz "$port"; then
		fail "first run: the embedded server does not answer /healthz (port '${port}')"
		tail_log "$HOST_LOG"
		return
	fi
	SETUP_OK=1
	pass "setup typed into the window created the class; the server answers http://127.0.0.1:$port/healthz"
}

test_console() {
	if [ $SETUP_OK != 1 ]; then
		fail "console: not tried, the first-run setup failed"
		return
	fi
	if ! wait_until 45 log_has "$HOST_LOG" 'msg="websocket connected".*username=prof'; then
		fail "console: the page in the window never reached the WebSocket"
		tail_log "$HOST_LOG"
		return
	fi
	# The console fills in after the socket opens: wait until the picture has
	# changed from the setup page and stopped changing.
	if ! stable_shot "$WORK/host-b.png" 30 "$WORK/setup.png"; then
		fail "console: the window did not settle on a page different from the setup page"
		return
	fi
	cp "$WORK/host-b.png" docs/screenshots/desktop-host.png
	pass "the console in the window signed in and reached the WebSocket (docs/screenshots/desktop-host.png, stddev $(stddev "$WORK/host-b.png"))"
}

test_second_instance() {
	if [ $SETUP_OK != 1 ]; then
		fail "second instance: not tried, the first instance is not running"
		return
	fi
	local log=$WORK/host2.log pid
	DISPLAY=:$DISP "$BIN" --no-mdns --addr 127.0.0.1:18490 --data "$DATA" >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! wait_until 30 log_has "$log" "in use by another Team Chat"; then
		fail "second instance: no clear message about the data directory in use"
		tail_log "$log"
		return
	fi
	# It shows the same message in its window, with a focused Quit button.
	if ! wait_until 30 log_has "$log" 'msg="window page" phase=error'; then
		fail "second instance: the window did not show the error"
		tail_log "$log"
		return
	fi
	local wid
	if ! wid=$(wait_until 10 window_of "$pid" && window_of "$pid") || [ -z "$wid" ]; then
		fail "second instance: no window"
		return
	fi
	screenshot "$WORK/locked.png" && cp "$WORK/locked.png" docs/screenshots/desktop-locked.png
	DISPLAY=:$DISP xdotool windowfocus --sync "$wid" key Return
	if ! wait_exit "$pid" 20; then
		fail "second instance: Quit in its window did not end it"
		return
	fi
	if [ "$EXIT_CODE" != 1 ]; then
		fail "second instance: exit code $EXIT_CODE, want 1"
		return
	fi
	if ! healthz "$(host_port "$HOST_LOG")" >/dev/null; then
		fail "second instance: the first instance stopped answering"
		return
	fi
	pass "a second instance on the same data dir refuses (exit 1): $(grep -m1 'in use by another' "$log")"
}

# stop_host SIGNAL LOG: closes the host with a signal and checks a clean exit.
stop_host() {
	local sig=$1 log=$2 port
	port=$(host_port "$log")
	kill -s "$sig" "$HOST_PID"
	if ! wait_exit "$HOST_PID" 30; then
		fail "$sig: host mode did not exit within 30 s"
		return 1
	fi
	if [ "$EXIT_CODE" != 0 ]; then
		fail "$sig: host mode exited with $EXIT_CODE"
		tail_log "$log"
		return 1
	fi
	if ! log_has "$log" 'msg="stopped cleanly"'; then
		fail "$sig: no clean shutdown logged"
		tail_log "$log"
		return 1
	fi
	if [ -n "$port" ] && healthz "$port" >/dev/null 2>&1; then
		fail "$sig: the server still answers after exit"
		return 1
	fi
	return 0
}

test_quit_and_restart() {
	if [ $SETUP_OK != 1 ]; then
		fail "quit and restart: not tried, the first-run setup failed"
		return
	fi
	stop_host TERM "$HOST_LOG" || return
	pass "SIGTERM closes the window and the server cleanly (exit 0, port closed)"

	# The next start skips setup, signs in and opens the console directly;
	# this also shows the first instance released its lock and database.
	local log=$WORK/host3.log
	start_host "$log"
	if ! wait_until 45 log_has "$log" 'msg="websocket connected".*username=prof'; then
		fail "restart: the console did not open by itself"
		tail_log "$log"
		return
	fi
	if log_has "$log" 'phase=setup'; then
		fail "restart: the setup page was shown again"
		return
	fi
	stop_host INT "$log" || return
	pass "a restart opens the console without setup; SIGINT closes it cleanly"
}

# Without a display, host mode says so and runs the headless server.
test_headless_host() {
	local log=$WORK/headless.log pid port
	env -u DISPLAY -u WAYLAND_DISPLAY "$BIN" --no-mdns --addr 127.0.0.1:18520 --data "$WORK/data-headless" >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! wait_until 30 log_has "$log" 'msg=listening'; then
		fail "headless host: the server did not start"
		tail_log "$log"
		return
	fi
	port=$(host_port "$log")
	if ! log_has "$log" "no display" || ! healthz "$port" >/dev/null; then
		fail "headless host: no 'no display' notice or no /healthz on port '$port'"
		tail_log "$log"
		return
	fi
	kill -TERM "$pid"
	if ! wait_exit "$pid" 30 || [ "$EXIT_CODE" != 0 ]; then
		fail "headless host: SIGTERM exit ${EXIT_CODE:-timeout}"
		return
	fi
	pass "without a display, host mode says so and serves headless ($(grep -m1 -o 'no display[^:]*' "$log"))"
}

echo "== host mode (Xvfb :$DISP, 127.0.0.1, --no-mdns)"
test_headless_host
test_first_run
test_console
test_second_instance
test_quit_and_restart

# ---- 2. LAN discovery between two network namespaces -----------------------

echo "== LAN discovery ($NS_A $IP_A <-> $NS_B $IP_B)"
NS_OK=0
setup_ns() {
	ip netns add "$NS_B" &&
		ip link add "$VETH_A" type veth peer name "$VETH_B" &&
		ip link set "$VETH_A" netns "$NS_A" &&
		ip link set "$VETH_B" netns "$NS_B" &&
		ip -n "$NS_A" addr add "$IP_A/24" dev "$VETH_A" &&
		ip -n "$NS_B" addr add "$IP_B/24" dev "$VETH_B" &&
		ip -n "$NS_A" link set "$VETH_A" up multicast on &&
		ip -n "$NS_B" link set "$VETH_B" up multicast on &&
		ip -n "$NS_A" link set lo up &&
		ip -n "$NS_B" link set lo up
}
if setup_ns 2>"$WORK/ns.err"; then
	NS_OK=1
else
	fail "creating the namespace pair: $(cat "$WORK/ns.err")"
fi

# The server in A uses the data dir set up through the window above (class
# "Physics 101"), or a fresh one (default name) if that failed.
EXPECT_NAME=$CLASS
NSDATA=$DATA
if [ $SETUP_OK != 1 ]; then
	EXPECT_NAME="Team Chat"
	NSDATA=$WORK/data-ns
fi
SRV_LOG=$WORK/serve-ns.log
HOSTNAME_A=tc-host-$RUN
SERVE_OK=0
SRV_PID=
if [ $NS_OK = 1 ]; then
	ip netns exec "$NS_A" unshare --uts sh -c 'hostname "$1" && exec "$2" serve --addr "$3:8080" --data "$4"' \
		sh "$HOSTNAME_A" "$BIN" "$IP_A" "$NSDATA" >"$SRV_LOG" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	if wait_until 30 log_has "$SRV_LOG" 'msg="announced on the LAN"'; then
		SERVE_OK=1
		note "$(grep -m1 'announced on the LAN' "$SRV_LOG")"
	else
		fail "the server in $NS_A did not announce"
		tail_log "$SRV_LOG"
	fi
fi
EXPECT_ID=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True); print(c.execute("select value from settings where key=\"installation_id\"").fetchone()[0])' "$NSDATA/teamchat.db" 2>/dev/null)

# check_json JSON-LINES-FILE [HOST IP [FP [GONE-IP]]]: our browser's output has
# the class with the expected name, host (default $HOSTNAME_A.local), address
# (default $IP_A), port and TXT; with FP, TXT fp= is FP; with GONE-IP, that
# address is no longer listed.
check_json() {
	python3 - "$1" "$EXPECT_NAME" "${2:-$HOSTNAME_A.local}" "${3:-$IP_A}" 8080 "$EXPECT_ID" "${4:-}" "${5:-}" <<'PY'
import json, sys
path, name, host, ip, port, want_id, want_fp, gone = sys.argv[1:9]
found = [json.loads(l) for l in open(path) if l.strip()]
mine = [e for e in found if e.get("host") == host]
if not mine:
    sys.exit("no entry from %s among %r" % (host, found))
e = mine[-1]
problems = []
for key, want in (("name", name), ("instance", name), ("port", int(port)), ("v", "1"), ("path", "/"),
                  ("id", want_id), ("url", "http://%s:%s/" % (ip, port))):
    if e.get(key) != want:
        problems.append("%s=%r, want %r" % (key, e.get(key), want))
if ip not in e.get("addrs", []):
    problems.append("addrs=%r lacks %s" % (e.get("addrs"), ip))
if gone and gone in e.get("addrs", []):
    problems.append("addrs=%r still lists %s" % (e.get("addrs"), gone))
if want_fp and e.get("fp") != want_fp:
    problems.append("fp=%r, want %r" % (e.get("fp"), want_fp))
if not want_id:
    problems.append("could not read the installation id from the database")
if problems:
    sys.exit("; ".join(problems))
print("%s at %s:%s id=%s%s" % (e["name"], ip, port, e["id"], " fp=" + e["fp"][:16] + "…" if want_fp else ""))
PY
}

test_discover() {
	if [ $SERVE_OK != 1 ]; then
		fail "teamchat discover: not tried, no server announces in $NS_A"
		return
	fi
	local out=$WORK/discover.jsonl msg
	ip netns exec "$NS_B" "$BIN" discover --json --timeout 5s >"$out" 2>"$WORK/discover.err"
	if msg=$(check_json "$out" 2>&1); then
		pass "teamchat discover --json in $NS_B finds the class: $msg (TXT v=1 path=/)"
	else
		fail "teamchat discover --json in $NS_B: $msg"
		tail_log "$WORK/discover.err" 5
	fi
}

# avahi runs in B with its own system bus in a private mount namespace (so it
# never meets the machine's dbus or avahi), browsing on the veth only and
# publishing nothing. avahi_browse IP: a fresh daemon browses until a resolved
# record with address IP appears (25 s at most); the records go to avahi.out.
avahi_browse() {
	cat >"$WORK/avahi.conf" <<EOF
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=$VETH_B
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
EOF
	ip netns exec "$NS_B" unshare --mount --uts --propagation private sh -c '
		hostname "tc-avahi-$1" || exit 1
		for d in /run/dbus /run/avahi-daemon; do
			mkdir -p "$d" && mount -t tmpfs tmpfs "$d" || exit 1
		done
		dbus-daemon --system --fork --print-pid >/run/dbus/test.pid || exit 1
		avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$2/avahi.conf" >"$2/avahi.log" 2>&1 &
		avahi=$!
		end=$(( $(date +%s) + 25 ))
		while [ "$(date +%s)" -lt "$end" ]; do
			avahi-browse -rtp _teamchat._tcp >"$2/avahi.out" 2>/dev/null
			grep -q "^=.*;$3;" "$2/avahi.out" && break
			sleep 0.3
		done
		kill "$avahi" "$(cat /run/dbus/test.pid)"
		wait "$avahi"
		true
	' sh "$RUN" "$WORK" "$1"
}

# check_avahi HOST IP [TXT...]: avahi.out has the class from HOST at IP with
# the expected name, port and TXT (v, path, name, id and the extra TXT given).
check_avahi() {
	python3 - "$WORK/avahi.out" "$EXPECT_NAME" "$1" "$2" 8080 "$EXPECT_ID" "${@:3}" <<'PY'
import re, sys
path, name, host, ip, port, want_id = sys.argv[1:7]
extra = sys.argv[7:]
def unescape(s):  # avahi-browse -p escapes as \DDD (decimal) and \X
    return re.sub(rb"\\(\d{3}|.)", lambda m: bytes([int(m.group(1))]) if m.group(1).isdigit() else m.group(1),
                  s.encode()).decode()
rows = [l.rstrip("\n").split(";", 9) for l in open(path) if l.startswith("=")]
mine = [r for r in rows if len(r) == 10 and r[7] == ip]
if not mine:
    sys.exit("no resolved record with address %s in %r" % (ip, rows))
r = mine[0]
txt = set(re.findall(r'"((?:[^"\\]|\\.)*)"', r[9]))
txt = {unescape(t) for t in txt}
problems = []
if unescape(r[3]) != name: problems.append("instance %r, want %r" % (unescape(r[3]), name))
if r[4] != "_teamchat._tcp": problems.append("type %r" % r[4])
if r[6] != host: problems.append("host %r, want %r" % (r[6], host))
if r[8] != port: problems.append("port %r, want %s" % (r[8], port))
for want in ["v=1", "path=/", "name=" + name, "id=" + want_id] + extra:
    if want not in txt: problems.append("TXT lacks %r (has %r)" % (want, sorted(txt)))
if problems: sys.exit("; ".join(problems))
print("%s on %s (%s:%s) TXT %s" % (unescape(r[3]), r[6], ip, port, " ".join(sorted(txt))))
PY
}

test_avahi() {
	if [ $SERVE_OK != 1 ]; then
		fail "avahi-browse: not tried, no server announces in $NS_A"
		return
	fi
	avahi_browse "$IP_A"
	local msg
	if msg=$(check_avahi "$HOSTNAME_A.local" "$IP_A" 2>&1); then
		pass "avahi-browse in $NS_B sees the same class: $msg"
	else
		fail "avahi-browse in $NS_B: $msg"
		tail_log "$WORK/avahi.log" 8
	fi
}

# Client mode without a display lists the classes on stdout instead.
test_headless_join() {
	if [ $SERVE_OK != 1 ]; then
		fail "headless join: not tried, no server announces in $NS_A"
		return
	fi
	local out
	out=$(ip netns exec "$NS_B" env -u DISPLAY -u WAYLAND_DISPLAY "$BIN" join 2>"$WORK/hjoin.err")
	if [ $? = 0 ] && printf '%s\n' "$out" | grep -q "^\"$EXPECT_NAME\" host=$HOSTNAME_A.local addrs=$IP_A.* port=8080 id=$EXPECT_ID url=http://$IP_A:8080/$" &&
		grep -q "no display" "$WORK/hjoin.err"; then
		pass "without a display, teamchat join lists the class on stdout: $out"
	else
		fail "headless join: stdout '$out'"
		tail_log "$WORK/hjoin.err" 5
	fi
}

test_discover
test_avahi
test_headless_join

# ---- 3. client mode in B ---------------------------------------------------

echo "== client mode (teamchat join in $NS_B)"
test_join() {
	if [ $SERVE_OK != 1 ]; then
		fail "teamchat join: not tried, no server announces in $NS_A"
		return
	fi
	local log=$WORK/join.log pid
	ip netns exec "$NS_B" env DISPLAY=:"$DISP" "$BIN" join >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! wait_until 30 log_has "$log" "msg=\"class found\" name=\"$EXPECT_NAME\" host=$HOSTNAME_A.local addrs=$IP_A"; then
		fail "teamchat join did not find the class announced in $NS_A"
		tail_log "$log"
		return
	fi
	if ! wait_until 20 log_has "$log" 'msg="window lists classes" count=1'; then
		fail "teamchat join: the window was not given the class"
		tail_log "$log"
		return
	fi
	# The page renders the list as soon as it receives it; wait for a stable picture.
	if ! stable_shot "$WORK/join-b.png" 15; then
		fail "teamchat join: the window never showed a stable picture"
		return
	fi
	cp "$WORK/join-b.png" docs/screenshots/desktop-join.png
	if ip netns exec "$NS_B" ss -Hltnp 2>/dev/null | grep -q "pid=$pid,"; then
		fail "teamchat join listens on a TCP port: no server may run in client mode"
		return
	fi
	pass "teamchat join in $NS_B lists \"$EXPECT_NAME\" from $NS_A (docs/screenshots/desktop-join.png); no server runs"

	# Open the class: Tab focuses its Open button, Enter presses it.
	DISPLAY=:$DISP xdotool windowfocus --sync "$(window_of "$pid")" key Tab key Return
	if ! wait_until 15 log_has "$log" "msg=\"opening class\" url=http://$IP_A:8080/"; then
		fail "teamchat join: the Open button did not open the class"
		tail_log "$log"
		return
	fi
	if ! stable_shot "$WORK/joined.png" 30 "$WORK/join-b.png"; then
		fail "teamchat join: the window did not change after opening http://$IP_A:8080/"
		return
	fi
	cp "$WORK/joined.png" docs/screenshots/desktop-join-opened.png
	pass "Open loads http://$IP_A:8080/ (the class's own page) in the window (docs/screenshots/desktop-join-opened.png)"

	# The menu's "Classes on this network" (Ctrl+L) brings the list back.
	DISPLAY=:$DISP xdotool windowfocus --sync "$(window_of "$pid")" key ctrl+l
	if ! wait_until 15 log_has "$log" 'msg="back to the class list"'; then
		fail "teamchat join: Ctrl+L did not reach the menu"
		tail_log "$log"
		return
	fi
	if ! stable_shot "$WORK/back.png" 20 "$WORK/joined.png" || differs "$WORK/join-b.png" "$WORK/back.png"; then
		fail "teamchat join: the window did not return to the class list"
		return
	fi
	pass "the menu (Ctrl+L) brings the window back to the class list"
	# When the professor's server stops, the class leaves the list.
	kill -TERM "$SRV_PID"
	if ! wait_exit "$SRV_PID" 30 || [ "$EXIT_CODE" != 0 ]; then
		fail "the server in $NS_A did not stop cleanly (exit ${EXIT_CODE:-timeout})"
		tail_log "$SRV_LOG"
		return
	fi
	if ! wait_until 40 log_has "$log" "msg=\"class gone\" name=\"$EXPECT_NAME\""; then
		fail "teamchat join: the class stayed listed after its server stopped"
		tail_log "$log"
		return
	fi
	if ! wait_until 10 log_has "$log" 'msg="window lists classes" count=0' ||
		! stable_shot "$WORK/empty.png" 20 "$WORK/join-b.png"; then
		fail "teamchat join: the window did not drop the class"
		return
	fi
	cp "$WORK/empty.png" docs/screenshots/desktop-join-none.png
	pass "the class leaves the list when its server stops (docs/screenshots/desktop-join-none.png)"

	kill -TERM "$pid"
	if ! wait_exit "$pid" 20 || [ "$EXIT_CODE" != 0 ]; then
		fail "teamchat join: SIGTERM did not close it cleanly (exit ${EXIT_CODE:-timeout})"
		return
	fi
	pass "SIGTERM closes client mode cleanly"
}
test_join

# ---- 4. a class over TLS, opened through the pinned proxy -------------------

# The same class now serves with --tls (HTTPS and HTTP on one port, every
# address of A) and announces TXT tls=1 fp=<SHA-256 of its certificate>.
# Client mode in B must open it through its local proxy that trusts only that
# fingerprint. (A mismatched fingerprint is refused by the Go tests
# TestPinnedProxyToATLSClass and TestJoinOpensPinnedClassThroughProxy.)
echo "== TLS class and pinned client mode ($NS_A, --tls)"
HOSTNAME_T=tc-tls-$RUN
TLS_LOG=$WORK/serve-tls.log
TLS_OK=0
TLS_PID=
FP=
start_tls_server() {
	if [ $NS_OK != 1 ]; then
		fail "TLS server: not tried, no namespaces"
		return
	fi
	if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
		kill -TERM "$SRV_PID"
		wait_exit "$SRV_PID" 30 || kill -9 "$SRV_PID"
	fi
	ip netns exec "$NS_A" unshare --uts sh -c 'hostname "$1" && exec "$2" serve --tls --addr 0.0.0.0:8080 --data "$3"' \
		sh "$HOSTNAME_T" "$BIN" "$NSDATA" >"$TLS_LOG" 2>&1 &
	TLS_PID=$!
	PIDS+=("$TLS_PID")
	if ! wait_until 30 log_has "$TLS_LOG" 'msg="announced on the LAN"'; then
		fail "the --tls server in $NS_A did not announce"
		tail_log "$TLS_LOG"
		return
	fi
	FP=$(sed -n 's/.*msg="TLS on the same port" fingerprint=\([0-9a-f]\{64\}\).*/\1/p' "$TLS_LOG" | head -1)
	if [ -z "$FP" ]; then
		fail "the --tls server logged no certificate fingerprint"
		tail_log "$TLS_LOG"
		return
	fi
	local out=$WORK/discover-tls.jsonl msg
	ip netns exec "$NS_B" "$BIN" discover --json --timeout 5s >"$out" 2>"$WORK/discover-tls.err"
	if ! msg=$(check_json "$out" "$HOSTNAME_T.local" "$IP_A" "$FP" 2>&1); then
		fail "teamchat discover --json in $NS_B (TLS class): $msg"
		return
	fi
	TLS_OK=1
	pass "the --tls server in $NS_A announces its certificate; discover in $NS_B reads it: $msg"
}

test_join_tls() {
	if [ $TLS_OK != 1 ]; then
		fail "pinned join: not tried, no TLS class announces in $NS_A"
		return
	fi
	local log=$WORK/join-tls.log pid via port body
	ip netns exec "$NS_B" env DISPLAY=:"$DISP" "$BIN" join >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! wait_until 30 log_has "$log" "msg=\"class found\" name=\"$EXPECT_NAME\" host=$HOSTNAME_T.local addrs=$IP_A" ||
		! wait_until 20 log_has "$log" 'msg="window lists classes" count=1'; then
		fail "pinned join: the window was not given the TLS class"
		tail_log "$log"
		return
	fi
	if ! stable_shot "$WORK/join-tls-list.png" 15; then
		fail "pinned join: the class list never showed a stable picture"
		return
	fi
	DISPLAY=:$DISP xdotool windowfocus --sync "$(window_of "$pid")" key Tab key Return
	if ! wait_until 15 log_has "$log" "msg=\"opening class over pinned TLS\" url=https://$IP_A:8080 fingerprint=$FP via=http://127.0.0.1:"; then
		fail "pinned join: Open did not go through the pinned proxy"
		tail_log "$log"
		return
	fi
	via=$(sed -n 's/.*msg="opening class over pinned TLS".* via=\(http:[^ ]*\).*/\1/p' "$log" | tail -1)
	if ! stable_shot "$WORK/join-tls.png" 30 "$WORK/join-tls-list.png"; then
		fail "pinned join: the window did not settle on the class's page after opening $via"
		tail_log "$log"
		return
	fi
	cp "$WORK/join-tls.png" docs/screenshots/desktop-join-tls.png
	if log_has "$log" 'msg=proxy'; then
		fail "pinned join: the proxy reported an error: $(grep -m1 'msg=proxy' "$log")"
		return
	fi
	# The window's page came over the pinned TLS hop: the proxy (inside the
	# join process) holds a connection to A's port, and serves the class.
	port=${via#http://127.0.0.1:}
	port=${port%/}
	if ! ip netns exec "$NS_B" ss -Htnp state established "( dport = :8080 )" 2>/dev/null | grep "$IP_A:8080" | grep -q "pid=$pid,"; then
		fail "pinned join: the join process holds no connection to $IP_A:8080"
		return
	fi
	# (the server listens on every address: IPv4 peers show as [::ffff:a.b.c.d])
	if ! ip netns exec "$NS_A" ss -Htn state established "( sport = :8080 )" 2>/dev/null | grep -Eq "[[:space:]](\[::ffff:)?$IP_B\]?:"; then
		fail "pinned join: the server in $NS_A sees no connection from $IP_B"
		ip netns exec "$NS_A" ss -Htna 2>&1 | sed 's/^/  A| /'
		ip netns exec "$NS_B" ss -Htnap 2>&1 | sed 's/^/  B| /'
		return
	fi
	body=$(ip netns exec "$NS_B" curl -fsS --max-time 5 "http://127.0.0.1:$port/api/v1/info" 2>&1)
	if ! printf '%s' "$body" | grep -q "\"name\":\"$EXPECT_NAME\""; then
		fail "pinned join: the window's proxy does not serve the class: $body"
		return
	fi
	pass "Open on the TLS class loads it through the pinned proxy $via (fingerprint ${FP:0:16}…; $IP_B→$IP_A:8080 established; /api/v1/info through it names \"$EXPECT_NAME\") (docs/screenshots/desktop-join-tls.png)"
	kill -TERM "$pid"
	if ! wait_exit "$pid" 20 || [ "$EXIT_CODE" != 0 ]; then
		fail "pinned join: SIGTERM did not close client mode cleanly (exit ${EXIT_CODE:-timeout})"
		return
	fi
}

# ---- 5. the host's address changes while it announces ----------------------

# A laptop that sleeps or gets a new DHCP lease: A's veth address changes under
# the running server. The server looks at its addresses every 10 s and, on a
# change, says goodbye and announces again; B must see the new address.
IP_A2=$NET.7
test_readdress() {
	if [ $TLS_OK != 1 ] || ! kill -0 "$TLS_PID" 2>/dev/null; then
		fail "address change: not tried, no server announces in $NS_A"
		return
	fi
	local out=$WORK/readdress.jsonl t0 secs found=0 end msg
	t0=$(date +%s.%N)
	if ! { ip -n "$NS_A" addr del "$IP_A/24" dev "$VETH_A" && ip -n "$NS_A" addr add "$IP_A2/24" dev "$VETH_A"; } 2>"$WORK/readdress.err"; then
		fail "address change: ip addr: $(cat "$WORK/readdress.err")"
		return
	fi
	note "$NS_A: $VETH_A $IP_A → $IP_A2"
	end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		ip netns exec "$NS_B" "$BIN" discover --json --timeout 2s >"$out" 2>/dev/null
		if check_json "$out" "$HOSTNAME_T.local" "$IP_A2" "$FP" "$IP_A" >/dev/null 2>&1; then
			found=1
			break
		fi
	done
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if [ $found != 1 ]; then
		fail "address change: teamchat discover in $NS_B did not report $IP_A2 within 30 s: $(check_json "$out" "$HOSTNAME_T.local" "$IP_A2" "$FP" "$IP_A" 2>&1)"
		tail_log "$TLS_LOG" 8
		return
	fi
	if ! log_has "$TLS_LOG" 'msg="network addresses changed; announcing the class again"'; then
		fail "address change: the server did not log its re-announcement"
		tail_log "$TLS_LOG" 8
		return
	fi
	msg=$(check_json "$out" "$HOSTNAME_T.local" "$IP_A2" "$FP" "$IP_A")
	pass "address change: teamchat discover in $NS_B reports the new address after ${secs} s (limit 30 s): $msg"
	local ts noticed
	ts=$(sed -n 's/^time=\([^ ]*\) .*msg="network addresses changed; announcing the class again".*/\1/p' "$TLS_LOG" | head -1)
	noticed=$(awk -v a="$t0" -v b="$(date -d "$ts" +%s.%N 2>/dev/null)" 'BEGIN { if (b == "") print "?"; else printf "%.1f", b - a }')
	echo "FIGURE: re-announcement seen by teamchat discover in $NS_B ${secs} s after the address change (server noticed it after ${noticed} s; watch interval 10 s, discover polls of 2 s)"

	t0=$(date +%s.%N)
	avahi_browse "$IP_A2"
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if ! msg=$(check_avahi "$HOSTNAME_T.local" "$IP_A2" tls=1 "fp=$FP" 2>&1); then
		fail "address change: avahi-browse in $NS_B: $msg"
		tail_log "$WORK/avahi.log" 8
		return
	fi
	if grep -q "^=.*;$IP_A;" "$WORK/avahi.out"; then
		fail "address change: avahi-browse still resolves the old address $IP_A"
		return
	fi
	pass "address change: avahi-browse in $NS_B resolves only the new address ($secs s): $msg"
	if ! wait_until 20 ip netns exec "$NS_B" curl -fsS --max-time 2 "http://$IP_A2:8080/healthz"; then
		fail "address change: the class does not answer at http://$IP_A2:8080/healthz"
		return
	fi
	pass "address change: the class answers at its new address http://$IP_A2:8080/healthz"
}

stop_tls_server() {
	[ -n "$TLS_PID" ] || return
	kill -TERM "$TLS_PID"
	if ! wait_exit "$TLS_PID" 30 || [ "$EXIT_CODE" != 0 ]; then
		fail "the --tls server in $NS_A did not stop cleanly (exit ${EXIT_CODE:-timeout})"
		tail_log "$TLS_LOG"
		return
	fi
	pass "the --tls server stops cleanly after re-announcing"
}

start_tls_server
test_join_tls
echo "== address change in $NS_A while announcing"
test_readdress
stop_tls_server

[ $FAILED = 0 ]

