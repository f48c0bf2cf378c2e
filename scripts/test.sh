#!/usr/bin/env bash
# The test command of README.md: installs what the tests need on a fresh
# Debian machine (Go modules, Mosquitto, InfluxDB 1.8.3, Chromium, promtool, Alertmanager, mailpit), then runs
# formatting and vet checks and the whole suite under the race detector.
# Integration tests talk to real servers they start on loopback; with
# CI=true a missing server is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go

scripts/install-deps.sh
# Only the tests need these: promtool checks the shipped Prometheus rules
# (deploy/prometheus); Alertmanager and mailpit (SMTP) are the real
# receivers the native alerts are tested against. Each is built once into
# the tool cache.
scripts/install-promtool.sh
scripts/install-gotool.sh alertmanager github.com/prometheus/alertmanager/cmd/alertmanager v0.31.1
scripts/install-gotool.sh mailpit github.com/axllent/mailpit v1.33.1
# A three-node NATS cluster is the region's high-availability deployment
# (region/ha_test.go, docs/reporting.md §6).
scripts/install-gotool.sh nats-server github.com/nats-io/nats-server/v2 v2.15.3

log "go mod download"
go mod download

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
	die "gofmt needed on: $unformatted"
fi

log "go mod tidy -diff"
if ! go mod tidy -diff; then
	die "go.mod/go.sum are not tidy: run go mod tidy"
fi

log "go vet ./..."
go vet ./...

log "cross-build check linux/arm64"
GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -o /dev/null ./cmd/...

# What runs where (README, Platforms): the product builds on macOS for
# development, and a Windows build must stop with the outbox's message.
log "cross-build check darwin/arm64, windows refused"
GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go build ./...
if winout=$(GOOS=windows CGO_ENABLED=0 go build ./outbox 2>&1) ||
	! grep -q icugate_runs_on_Linux_and_other_Unix_systems_only <<<"$winout"; then
	die "a windows build must stop with the platform message; got: $winout"
fi

log "go test -race ./..."
export PATH="$ICUGATE_CACHE/bin:$PATH"
go test -race -count=1 -timeout 20m ./... "$@"
log "all tests passed"
