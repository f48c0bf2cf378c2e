#!/usr/bin/env bash
# README's "main job" command: on a fresh Debian machine with Go, builds
# everything, starts InfluxDB 1.8.3 and Mosquitto on loopback, starts icusim
# with the demo hospital (configs/demo-site.yaml: ~40 ICU beds, ~130 devices
# over Modbus TCP, RTU-over-TCP and MQTT, with a scenario that admits
# patients and faults devices), starts icugate against it, and prints where
# to look. Ctrl-C stops everything it started.
#
#   ./scripts/demo.sh            # run until Ctrl-C
#   DEMO_SECONDS=60 ./scripts/demo.sh   # run for a minute, then stop (CI smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go

SITE=configs/demo-site.yaml
DATA=${DEMO_DATA:-$PWD/data/demo}
SCENARIO=${DEMO_SCENARIO:-configs/scenarios/demo.yaml}

scripts/install-deps.sh
export PATH="$ICUGATE_CACHE/bin:$PATH"

log "building icugate and icusim"
mkdir -p bin
go build -o bin/ ./cmd/icugate ./cmd/icusim

log "checking $SITE"
bin/icugate check -c "$SITE"

mkdir -p "$DATA"/{influxdb,mosquitto,gateway,logs}
pids=()
cleanup() {
	trap - INT TERM EXIT
	log "stopping demo"
	# Newest first, each waited for: icugate makes its last points durable
	# and hands them to InfluxDB before the servers go away.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
}
trap cleanup INT TERM EXIT

wait_port() { # host port name
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	die "$3 did not start listening on $1:$2; see $DATA/logs/"
}

log "starting InfluxDB 1.8.3 on 127.0.0.1:18086"
INFLUXDB_META_DIR="$DATA/influxdb/meta" INFLUXDB_DATA_DIR="$DATA/influxdb/data" INFLUXDB_DATA_WAL_DIR="$DATA/influxdb/wal" \
	influxd run -config configs/influxdb/demo.conf >"$DATA/logs/influxd.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 18086 influxd
curl -fsS -XPOST 'http://127.0.0.1:18086/query' --data-urlencode 'q=CREATE DATABASE icugate' >/dev/null

log "starting Mosquitto on 127.0.0.1:18830"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
# demo.conf keeps its persistence in the directory mosquitto starts in.
(cd "$DATA/mosquitto" && exec "$MOSQUITTO" -c "$OLDPWD/configs/mosquitto/demo.conf") >"$DATA/logs/mosquitto.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 18830 mosquitto

log "starting icusim (simulated ICU devices)"
sim_args=(-c "$SITE" -listen 127.0.0.1:8090)
[ -f "$SCENARIO" ] && sim_args+=(-scenario "$SCENARIO")
bin/icusim "${sim_args[@]}" >"$DATA/logs/icusim.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 8090 icusim

log "starting icugate"
bin/icugate run -c "$SITE" -data "$DATA/gateway" >"$DATA/logs/icugate.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 8080 icugate

cat <<EOT

  icugate demo is running.
    Dashboard      http://127.0.0.1:8080/
    Capacity API   http://127.0.0.1:8080/api/v1/capacity
    Devices API    http://127.0.0.1:8080/api/v1/devices
    Metrics        http://127.0.0.1:8080/metrics
    InfluxDB       http://127.0.0.1:18086  (database icugate; try:
                   curl -G http://127.0.0.1:18086/query --data-urlencode db=icugate \\
                     --data-urlencode 'q=SELECT last(*) FROM icu_capacity GROUP BY unit')
    icusim API     http://127.0.0.1:8090/devices  (change a device:
                   curl -XPUT http://127.0.0.1:8090/devices/gicu-01-vent/state -d '{"state":"fault"}')
    Logs           $DATA/logs/

  Ctrl-C stops everything.
EOT

if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS"
	curl -fsS -o "$DATA/capacity.json" http://127.0.0.1:8080/api/v1/capacity
	head -c 2000 "$DATA/capacity.json"
	echo
else
	wait -n "${pids[@]}" || true
	log "a demo process exited; see $DATA/logs/"
fi
