#!/usr/bin/env bash
# The benchmark command: runs every performance target of the project and
# prints the numbers. Benchmarks are never run by the test command; tests do
# not assert speed.
#
#   ./scripts/bench.sh            # all
#   ./scripts/bench.sh engine     # one of: engine modbus mqtt outbox api report
#
# The product end to end (`icugate run` in its own process, the simulator
# in another, real Mosquitto and InfluxDB 1.8.3; cmd/icusim/gatebench,
# docs/benchmarks.md). Extra arguments go to gatebench:
#
#   ./scripts/bench.sh gateway                        # 1,000 Modbus TCP devices, InfluxDB on
#   ./scripts/bench.sh gateway -devices 2000 -influx=false
#   ./scripts/bench.sh gateway -devices 2000 -per-address 4   # 500 converters x 4
#   ./scripts/bench.sh gateway -max-conns 2
#   ./scripts/bench.sh gateway-scale                  # 500 ... 10,000 devices
#   ./scripts/bench.sh gateway-mqtt [-backlog 200000]
#   ./scripts/bench.sh gateway-demo                   # configs/demo-site.yaml with icusim
#
# ICUGATE_BENCH_JSON=FILE appends each run's JSON line to FILE;
# `gatebench -summarize FILE` prints the medians. ICUGATE_BENCH_TELEGRAF=1
# also measures Telegraf v1.37.2 (built once into $ICUGATE_CACHE/bin).
set -euo pipefail
case "${ICUGATE_BENCH_JSON:-}" in
"" | /*) ;;
*) ICUGATE_BENCH_JSON="$PWD/$ICUGATE_BENCH_JSON" ;; # relative to where it was run
esac
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go
scripts/install-deps.sh
export PATH="$ICUGATE_CACHE/bin:$PATH"
what=${1:-all}
if [ $# -gt 0 ]; then shift; fi
extra=("$@")

run() { [ "$what" = all ] || [ "$what" = "$1" ]; }

# telegraf_bin builds Telegraf into the tool cache once (minutes) and
# prints its path, or prints nothing when the build fails.
telegraf_bin() {
	local t="$ICUGATE_CACHE/bin/telegraf"
	if [ ! -x "$t" ]; then
		log "building Telegraf v1.37.2 into $ICUGATE_CACHE/bin (once; takes minutes)"
		mkdir -p "$ICUGATE_CACHE/bin"
		if ! GOFLAGS="" CGO_ENABLED=0 GOBIN="$ICUGATE_CACHE/bin" \
			go install github.com/influxdata/telegraf/cmd/telegraf@v1.37.2 >&2; then
			log "Telegraf could not be built (go install failed); continuing without it"
			return 0
		fi
	fi
	echo "$t"
}

# gatebench builds the product's binaries once and runs the end-to-end
# benchmark with the given arguments.
bench_bin=""
gatebench() {
	if [ -z "$bench_bin" ]; then
		bench_bin=$(mktemp -d "${TMPDIR:-/tmp}/icugate-bench-bin.XXXXXX")
		# shellcheck disable=SC2064
		trap "rm -rf '$bench_bin'" EXIT
		log "building icugate, icusim, bench and gatebench into $bench_bin"
		go build -o "$bench_bin/" ./cmd/icugate ./cmd/icusim ./cmd/icusim/bench ./cmd/icusim/gatebench
	fi
	local args=(-bin "$bench_bin" -repo .)
	if [ -n "${ICUGATE_BENCH_JSON:-}" ]; then
		args+=(-json "$ICUGATE_BENCH_JSON")
	fi
	if [ "${ICUGATE_BENCH_TELEGRAF:-0}" = 1 ]; then
		local t
		t=$(telegraf_bin)
		if [ -n "$t" ]; then
			args+=(-telegraf "$t")
		fi
	fi
	"$bench_bin/gatebench" "${args[@]}" "$@"
}

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
if run gateway; then
	log "gateway: icugate run polling Modbus TCP devices (default 1,000 at 1 Hz, 16 registers), simulator in another process, InfluxDB 1.8.3; then the driver alone and the goburrow floor"
	gatebench -workload modbus "${extra[@]}"
fi
if [ "$what" = gateway-scale ]; then
	log "gateway-scale: the same at 500, 1,000, 2,000, 5,000 and 10,000 devices"
	gatebench -workload modbus -scale 500,1000,2000,5000,10000 "${extra[@]}"
fi
if run gateway-mqtt; then
	log "gateway-mqtt: icugate run taking 1,000 MQTT devices' messages (1 per second each) through Mosquitto, InfluxDB 1.8.3"
	gatebench -workload mqtt "${extra[@]}"
fi
if [ "$what" = gateway-demo ]; then
	log "gateway-demo: icugate run on configs/demo-site.yaml with icusim"
	gatebench -workload demo "${extra[@]}"
fi
