#!/usr/bin/env bash
# install-influxdb.sh builds InfluxDB OSS 1.8.3 (influxd) from source into a
# cache directory so integration tests and the demo can start a real server.
#
#   ICUGATE_CACHE  cache root (default $HOME/.cache/icugate); the binary lands
#                  in $ICUGATE_CACHE/bin/influxd.
#
# The build is skipped when the binary is already there. It needs only the Go
# toolchain and the Go module proxy.
set -euo pipefail

version="v1.8.3"
cache="${ICUGATE_CACHE:-${HOME}/.cache/icugate}"
bin="${cache}/bin"
target="${bin}/influxd"

if [[ -x "${target}" ]]; then
	echo "install-influxdb: ${target} already present, skipping build"
	exit 0
fi

mkdir -p "${bin}"
echo "install-influxdb: building influxd ${version} into ${bin} (takes minutes)"
# GOFLAGS is cleared so a caller's -mod=vendor or similar does not leak into
# the module-mode install; CGO is not needed by influxd.
GOFLAGS="" CGO_ENABLED=0 GOBIN="${bin}" \
	go install "github.com/influxdata/influxdb/cmd/influxd@${version}"
"${target}" version
