#!/usr/bin/env bash
# Installs the servers and tools icugate's tests and demo use, when missing:
# Mosquitto (Debian package), InfluxDB OSS 1.8.3 (built with go install, cached
# in $ICUGATE_CACHE/bin), and Debian's Chromium for the dashboard tests.
# Idempotent: a second run does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install ca-certificates curl

for s in install-mosquitto.sh install-influxdb.sh install-chromium.sh; do
	if [ -x "scripts/$s" ]; then
		"scripts/$s"
	fi
done
