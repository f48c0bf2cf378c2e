# The container and systemd steps of scripts/test-packaging.sh, which
# sources this file (it uses that script's work, run_id, on_exit, ok, fail,
# version). Both need a Docker engine: Debian's docker.io, with a dockerd
# started here when none runs.
# shellcheck shell=bash

# The client of Debian's docker.io matches its engine; a newer client
# elsewhere on PATH also works, with the classic builder (no buildx here).
DOCKER=docker
export DOCKER_BUILDKIT=0

docker_up() {
	[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
	if $DOCKER info >/dev/null 2>&1; then
		return 0
	fi
	apt_install docker.io
	[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
	log "starting dockerd (vfs storage, no bridge, no iptables; stopped at the end)"
	dockerd --storage-driver=vfs --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
	local pid=$!
	on_exit "stop_pid $pid"
	for _ in $(seq 1 120); do
		$DOCKER info >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	tail -20 "$work/dockerd.log" >&2
	fail "dockerd did not start"
}

# stop_pid PID stops a process this script started: TERM, then KILL after 20 s.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 1 40); do
		kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
		sleep 0.5
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wait_for SECONDS WHAT COMMAND... polls COMMAND until it succeeds.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.5
	done
}

port_free() {
	local p
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			fail "port 127.0.0.1:$p is in use (a demo running?); the container test needs the demo's ports"
		fi
	done
}

# demo_servers starts InfluxDB, Mosquitto and icusim as scripts/demo.sh
# does (same configs, same ports), icusim from the release build.
demo_servers() {
	scripts/install-influxdb.sh >/dev/null
	scripts/install-mosquitto.sh >/dev/null
	port_free 18086 18088 18830 8090 8080 15100 15200
	local d="$work/demo"
	mkdir -p "$d"/{influxdb,mosquitto}
	INFLUXDB_META_DIR="$d/influxdb/meta" INFLUXDB_DATA_DIR="$d/influxdb/data" INFLUXDB_DATA_WAL_DIR="$d/influxdb/wal" \
		influxd run -config configs/influxdb/demo.conf >"$d/influxd.log" 2>&1 &
	on_exit "stop_pid $!"
	wait_for 30 influxd curl -fsS http://127.0.0.1:18086/ping || fail "influxd did not start: $(tail -5 "$d/influxd.log")"
	curl -fsS -XPOST http://127.0.0.1:18086/query --data-urlencode 'q=CREATE DATABASE icugate' >/dev/null
	local mosquitto
	mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	(cd "$d/mosquitto" && exec "$mosquitto" -c "$OLDPWD/configs/mosquitto/demo.conf") >"$d/mosquitto.log" 2>&1 &
	on_exit "stop_pid $!"
	wait_for 20 mosquitto bash -c 'exec 3<>/dev/tcp/127.0.0.1/18830' || fail "mosquitto did not start"
	"dist/build/linux_$(go env GOARCH)/icusim" -c configs/demo-site.yaml -listen 127.0.0.1:8090 >"$d/icusim.log" 2>&1 &
	on_exit "stop_pid $!"
	wait_for 20 icusim curl -fsS http://127.0.0.1:8090/devices || fail "icusim did not start: $(tail -5 "$d/icusim.log")"
}

step_container() {
	docker_up
	local img="icugate:$run_id" gw="$run_id-gateway" vol="$run_id-data"
	$DOCKER build -q -t "$img" --build-arg VERSION="$(version)" dist/container >/dev/null
	on_exit "$DOCKER rmi -f $img"
	[ "$($DOCKER image inspect -f '{{.Config.User}}' "$img")" = 65532:65532 ] || fail "the image does not run as 65532"
	$DOCKER image inspect -f '{{json .Config.Healthcheck.Test}}' "$img" | has '"/usr/bin/icugate","health"' ||
		fail "the image has no HEALTHCHECK by icugate health"
	local c
	c=$($DOCKER create "$img")
	$DOCKER export "$c" | tar -tvf - >"$work/image-files"
	$DOCKER rm -v "$c" >/dev/null
	grep -q ' usr/bin/icugate$' "$work/image-files" || fail "no /usr/bin/icugate in the image"
	grep -q ' usr/share/icugate/profiles/generic-ventilator-modbus.yaml$' "$work/image-files" || fail "no profiles in the image"
	grep -q '^d[^ ]* icugate/icugate .* var/lib/icugate/$' "$work/image-files" || fail "/var/lib/icugate is not the icugate user's"
	if grep -q 'icusim\|icuregion\|bin/sh' "$work/image-files"; then
		fail "the gateway image holds more than the gateway: $(grep 'icusim\|icuregion\|bin/sh' "$work/image-files")"
	fi
	ok "image: FROM scratch, $(($($DOCKER image inspect -f '{{.Size}}' "$img") / 1000000)) MB, user 65532, HEALTHCHECK, profiles in /usr/share/icugate, no icusim"

	demo_servers
	# The demo site as a container site: profiles from the image, outbox
	# in the data volume, the broker login from /run/secrets.
	mkdir -p "$work/etc" "$work/secrets"
	sed -e 's|^profiles_dir: profiles$|profiles_dir: /usr/share/icugate/profiles|' \
		-e 's|^  dir: \.\./data/demo-outbox$|  dir: /var/lib/icugate/outbox|' \
		-e 's|^  client_id: icugate-demo-hospital$|&\n  username_file: $CREDENTIALS_DIRECTORY/mqtt-username\n  password_file: $CREDENTIALS_DIRECTORY/mqtt-password|' \
		configs/demo-site.yaml >"$work/etc/site.yaml"
	for want in 'profiles_dir: /usr/share/icugate/profiles' 'dir: /var/lib/icugate/outbox' 'password_file: $CREDENTIALS_DIRECTORY/mqtt-password'; do
		grep -qF "$want" "$work/etc/site.yaml" || fail "configs/demo-site.yaml changed shape: could not set $want"
	done
	chmod 0755 "$work/etc" && chmod 0644 "$work/etc/site.yaml"
	echo icugate >"$work/secrets/mqtt-username"
	echo demo-password >"$work/secrets/mqtt-password"
	chown -R 65532:65532 "$work/secrets" && chmod 0500 "$work/secrets" && chmod 0400 "$work/secrets"/*

	$DOCKER volume create "$vol" >/dev/null
	on_exit "$DOCKER volume rm -f $vol"
	# The image's HEALTHCHECK command, checked every 2 s instead of 30 s.
	$DOCKER run -d --name "$gw" --read-only --network host \
		-v "$work/etc:/etc/icugate:ro" -v "$work/secrets:/run/secrets:ro" -v "$vol:/var/lib/icugate" \
		--health-interval 2s --health-start-period 60s "$img" >/dev/null
	on_exit "$DOCKER rm -f -v $gw"
	local health=""
	for _ in $(seq 1 120); do
		health=$($DOCKER inspect -f '{{.State.Health.Status}}' "$gw")
		[ "$health" = healthy ] && break
		[ "$($DOCKER inspect -f '{{.State.Running}}' "$gw")" = true ] ||
			{ $DOCKER logs "$gw" 2>&1 | tail -20 >&2; fail "the gateway container exited"; }
		sleep 0.5
	done
	[ "$health" = healthy ] || { $DOCKER inspect -f '{{json .State.Health}}' "$gw" >&2; fail "the container is $health, not healthy, after 60 s"; }
	[ "$($DOCKER inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$gw")" = true ] || fail "the root file system is writable"
	ok "container: healthy (docker inspect) with a read-only root, config mounted read-only over /etc/icugate"

	curl -fsS http://127.0.0.1:8080/api/v1/capacity >"$work/capacity.json" || fail "no capacity from the container"
	grep -q '"hospital_id":"demo-hospital"' "$work/capacity.json" && grep -q '"beds_total":40' "$work/capacity.json" ||
		fail "capacity is not the demo hospital's 40 beds: $(head -c 300 "$work/capacity.json")"
	ok "container: /api/v1/capacity serves the demo hospital (40 beds)"

	local q='SELECT count(beds_total) FROM icu_capacity; SELECT count(state) FROM device_state'
	wait_for 30 points bash -c "curl -fsS -G http://127.0.0.1:18086/query --data-urlencode db=icugate --data-urlencode 'q=$q' | grep -q '\"name\":\"device_state\"'" ||
		fail "no points from the container in InfluxDB"
	curl -fsS -G http://127.0.0.1:18086/query --data-urlencode db=icugate --data-urlencode "q=$q" >"$work/points.json"
	ok "container: points in InfluxDB ($(grep -o '"name":"[a-z_]*","columns":\["time","count"\],"values":\[\["[^"]*",[0-9]*' "$work/points.json" | sed 's/"name":"\([a-z_]*\)".*,\([0-9]*\)$/\1 \2/' | paste -sd, -))"

	local start=$SECONDS
	$DOCKER stop -t 30 "$gw" >/dev/null || fail "docker stop failed"
	local took=$((SECONDS - start)) code
	code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$gw")
	[ "$code" = 0 ] || { $DOCKER logs "$gw" 2>&1 | tail -10 >&2; fail "the gateway exited $code on docker stop"; }
	[ "$took" -lt 30 ] || fail "docker stop took $took s: the grace period ran out"
	$DOCKER logs "$gw" 2>&1 | has 'icugate stopped' || fail "no 'icugate stopped' in the container's log"
	ok "container: docker stop: exit 0 in $took s (grace 30 s)"
}

# step_dockerfile, not in the default run (about 4 minutes: a Go build in
# an image with an empty module cache), builds the multi-stage Dockerfile
# of sites with registry access offline: a local stand-in for
# golang:1.26-bookworm is made of the systemd step's Debian root file
# system and this machine's Go toolchain and CA bundle (module downloads may
# pass a TLS-inspecting proxy; the test image is thrown away).
step_dockerfile() {
	docker_up
	local golang=golang:1.26-bookworm img="icugate:$run_id-multistage" tarball base
	if ! $DOCKER image inspect "$golang" >/dev/null 2>&1; then
		tarball=$(scripts/install-debian-rootfs.sh | tail -1)
		base="icugate-dockerfile-base:$run_id"
		$DOCKER import "$tarball" "$base" >/dev/null
		on_exit "$DOCKER rmi -f $base"
		mkdir -p "$work/golang"
		cp -a "$(go env GOROOT)" "$work/golang/go"
		cp /etc/ssl/certs/ca-certificates.crt "$work/golang/"
		printf '%s\n' "FROM $base" 'COPY go /usr/local/go' 'COPY ca-certificates.crt /etc/ssl/certs/' \
			'ENV PATH=/go/bin:/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin GOPATH=/go GOFLAGS=' >"$work/golang/Dockerfile"
		$DOCKER build -q -t "$golang" "$work/golang" >/dev/null
		on_exit "$DOCKER rmi -f $golang"
	fi
	$DOCKER build --network host --build-arg VERSION="$(version)" -t "$img" . >"$work/dockerfile.log" 2>&1 ||
		{ tail -20 "$work/dockerfile.log" >&2; fail "docker build . failed"; }
	on_exit "$DOCKER image prune -f"
	on_exit "$DOCKER rmi -f $img"
	local context
	context=$(tr '\r' '\n' <"$work/dockerfile.log" | sed -n 's/^Sending build context to Docker daemon *//p' | tail -1)
	case "$context" in
	*kB | [0-9]MB | [0-9].*MB | [1-4][0-9]MB | [1-4][0-9].*MB) ;;
	*) fail "the build context is $context: does .dockerignore keep bin/, data/, dist/ out?" ;;
	esac
	[ "$($DOCKER run --rm --network none "$img" version | head -1)" = "icugate $(version)" ] || fail "the image's icugate version is wrong"
	local c
	c=$($DOCKER create "$img")
	$DOCKER export "$c" | tar -tvf - >"$work/ms-files"
	$DOCKER rm -v "$c" >/dev/null
	grep -q ' usr/share/icugate/profiles/generic-ventilator-modbus.yaml$' "$work/ms-files" &&
		grep -q '^d[^ ]* icugate/icugate .* var/lib/icugate/$' "$work/ms-files" && ! grep -q icusim "$work/ms-files" ||
		fail "the multi-stage image is not laid out like the release image"
	ok "Dockerfile (multi-stage): builds offline against a stand-in golang image ($context context), laid out like the release image"
}
