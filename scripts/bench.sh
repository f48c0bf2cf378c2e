#!/usr/bin/env bash
# The benchmark command: runs every performance target of the project and
# prints the numbers. Benchmarks are never run by the test command; tests do
# not assert speed.
#
#   ./scripts/bench.sh            # all
#   ./scripts/bench.sh engine     # one of: engine modbus mqtt outbox api report
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go
scripts/install-deps.sh
export PATH="$ICUGATE_CACHE/bin:$PATH"
what=${1:-all}

run() { [ "$what" = all ] || [ "$what" = "$1" ]; }

if run engine; then
	log "engine: 300 beds, 2,000 devices; target >= 1,000,000 obs/s on one core, 0 allocs/op"
	go test -run '^$' -bench 'Observe|Snapshot' -benchmem -cpu 1 ./pipeline/
fi
if run modbus; then
	log "modbus: 2,000 simulated devices at 1 Hz, 16 registers each; targets <= 20 ms CPU per 1,000 polls, <= 64 MB RSS"
	go run ./cmd/icusim/bench -devices 2000 -per-address 4 -interval 1s -duration 30s
fi
if run mqtt; then
	log "mqtt: 200,000 QoS 1 messages for 1,000 devices through Mosquitto; targets <= 8 ms CPU per 1,000, <= 64 MB RSS"
	go test -run '^$' -bench Throughput -benchtime 1x ./drivers/mqtt/
fi
if run outbox; then
	log "outbox: durable appends/s (target >= 200,000 points/s) and drain into InfluxDB 1.8.3 vs a plain batched write (target >= 80%)"
	go test -run '^$' -bench 'Append|Drain' -benchmem ./outbox/ ./influx/
fi
if run api; then
	log "api: JSON documents for 2,000 devices"
	go test -run '^$' -bench . -benchmem ./api/
fi
if run report; then
	log "report: signing and verification, regional ingest"
	go test -run '^$' -bench . -benchmem ./report/ ./region/
fi
