# Team Chat — every target installs what it needs first and says what it is doing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export GOFLAGS := -buildvcs=false
export PATH := /usr/local/go/bin:$(PATH)

GO        ?= go
BIN       := bin/teamchat
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X teamchat/server/config.Version=$(VERSION)
DESKTOP_TAGS := desktop,production,webkit2_41,webui
# Go packages: listed explicitly so Go tooling never walks into frontend/node_modules.
GO_PKGS   := . ./app/... ./server/... ./frontend ./docs
DATA      ?= .data

.PHONY: run test build build-server build-windows bench lint fuzz web deps deps-desktop deps-web \
        test-go test-crash test-powercut test-storm test-soak test-fuzz test-web test-desktop clean soak bench-storm

## run: build the desktop app and start it (host mode; without a display it serves headless)
run: build
	@echo "== starting Team Chat with data dir $(DATA)"
	./$(BIN) --data $(DATA)

## test: everything CI runs (installs its own dependencies)
test: deps lint test-go test-crash test-storm test-soak test-fuzz test-web test-desktop
	@echo "== make test: all suites passed"

deps:
	@echo "== installing system packages (only those missing)"
	bash scripts/deps.sh

deps-web:
	@echo "== installing frontend packages (npm ci)"
	cd frontend && npm ci --no-audit --no-fund

## web: build the web client into frontend/dist
web: deps-web
	@echo "== building the web client"
	cd frontend && npm run build

## build: the Linux desktop binary (embeds the web client and the server)
build: deps web
	@echo "== building $(BIN) (tags $(DESKTOP_TAGS))"
	$(GO) build -tags $(DESKTOP_TAGS) -ldflags '$(LDFLAGS)' -o $(BIN) .

## build-server: headless server binary with the web client, no GTK needed
build-server: web
	$(GO) build -tags webui -ldflags '$(LDFLAGS)' -o bin/teamchat-server .

## build-windows: cross-build teamchat.exe (WebView2, no cgo)
build-windows: web
	@echo "== cross-building bin/teamchat.exe (icon and manifest from build/windows)"
	cp build/windows/rsrc_windows_amd64.syso rsrc_windows_amd64.syso
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -tags desktop,production,webui \
	  -ldflags '$(LDFLAGS) -H windowsgui' -o bin/teamchat.exe . || { rm -f rsrc_windows_amd64.syso; exit 1; }
	rm -f rsrc_windows_amd64.syso

lint:
	@echo "== gofmt"
	@out=$$(gofmt -l main.go app server frontend/*.go docs/*.go); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@echo "== go vet"
	$(GO) vet $(GO_PKGS)
	@echo "== OpenAPI and AsyncAPI documents (redocly lint, pinned in frontend devDependencies; rules in docs/redocly.yaml)"
	@[ -x frontend/node_modules/.bin/redocly ] || (cd frontend && npm ci --no-audit --no-fund)
	cd frontend && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint \
	  --config ../docs/redocly.yaml ../docs/openapi.yaml ../docs/asyncapi.yaml
	@echo "== go vet (desktop tags)"
	$(GO) vet -tags desktop,production,webkit2_41 . ./app/...
	@echo "== module updates (go list -m -u; govulncheck needs an online database this machine cannot reach)"
	@$(GO) list -m -u -f '{{if .Update}}update available: {{.Path}} {{.Version}} -> {{.Update.Version}}{{end}}' all 2>/dev/null | grep . || echo "no updates listed"
	@n=$$($(GO) list -m -u all 2>&1 >/dev/null | grep -c 'Forbidden' || true); \
	  echo "($$n modules' version lists were refused by the module proxy; those could not be checked here)"

test-go:
	@echo "== go test -race (server, app, CLI)"
	$(GO) test -race -count=1 -timeout 20m $(GO_PKGS)

## test-crash: the kill -9 suite, 20 rounds with random kill points (3 run in test-go)
test-crash:
	@echo "== crash suite: SIGKILL at random points, 20 rounds"
	TEAMCHAT_CRASH_ROUNDS=20 $(GO) test -count=1 -timeout 20m -run 'TestCrashDuringBurst' .

## test-powercut: 50 power cuts on cutfs (a FUSE filesystem that drops what was not fsynced; needs root and /dev/fuse; 5 run in test-go)
test-powercut:
	@echo "== power-cut suite: 50 cuts at random writes and fsyncs, restart on what survived"
	TEAMCHAT_POWERCUT_TRIALS=50 $(GO) test -count=1 -timeout 20m -run 'TestPowerCutLosesNothingAcked' .
## test-storm: 1,000 students reconnecting after an access-point reset (test-go runs 200, under -race)
test-storm:
	@echo "== reconnect storm: 1,000 students behind a resetting access point"
	$(GO) test -count=1 -timeout 15m -run '^TestReconnectStorm$$' -v . | grep -v 'level='

## test-soak: 2.5 minutes of classroom traffic with churn against the built binary (make soak: 30 minutes)
test-soak:
	@echo "== soak: 200 students with churn for 2m30s; open files, goroutines and live heap must stay flat"
	TEAMCHAT_SOAK=2m30s $(GO) test -count=1 -timeout 15m -run '^TestSoak$$' -v .

## soak: the long soak, 300 students for 30 minutes; samples in bin/soak.csv, slopes in the output
soak:
	@echo "== soak: 300 students with churn for 30 minutes (samples in bin/soak.csv)"
	mkdir -p bin
	TEAMCHAT_SOAK=30m TEAMCHAT_SOAK_STUDENTS=300 TEAMCHAT_SOAK_CSV=$(CURDIR)/bin/soak.csv \
	  $(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v .

## test-fuzz: a short run of every fuzz target: 5,000 inputs each, a count so no time budget can race (make fuzz runs longer)
test-fuzz:
	@echo "== fuzzing, 5,000 inputs per target"
	bash scripts/fuzz.sh 5000x

test-web: deps-web
	@echo "== web client: type check, unit tests, build, browser end-to-end tests"
	bash scripts/test-web.sh

test-desktop:
	@echo "== desktop app and LAN discovery tests"
	bash scripts/test-desktop.sh

## bench: load test against the real binary on 127.0.0.1; figures go to docs/performance.md
##        (CENTRIFUGO=/path/to/centrifugo also measures that peer in the same run)
bench:
	@echo "== building the server and the load command"
	$(GO) build -o bin/teamchat-bench-server .
	$(GO) build -o bin/loadtest ./server/cmd/loadtest
	$(GO) build -o bin/searchbench ./server/cmd/searchbench
	./bin/loadtest -server ./bin/teamchat-bench-server $(if $(CENTRIFUGO),-peer centrifugo -peer-bin $(CENTRIFUGO))
	@echo "== full-text search over 1,000,000 stored messages"
	./bin/searchbench -messages 1000000 -data bin/bench-data/search

## bench-storm: reconnect storm of 1,000 students, both kinds of access-point reset; prints the curve for docs/performance.md
bench-storm:
	@echo "== reconnect storm: 1,000 students, silent and closing resets"
	TEAMCHAT_STORM_CLIENTS=1000 TEAMCHAT_STORM_MODES=silent,close TEAMCHAT_STORM_CURVE=1 \
	  $(GO) test -count=1 -timeout 20m -run '^TestReconnectStorm$$' -v . | grep -v 'level='

## fuzz: longer fuzz runs
fuzz:
	bash scripts/fuzz.sh 60s

clean:
	rm -rf bin frontend/dist
