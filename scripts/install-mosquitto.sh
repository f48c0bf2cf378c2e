#!/usr/bin/env bash
# install-mosquitto.sh — make sure the Mosquitto MQTT broker is installed.
#
# Idempotent: does nothing when `mosquitto` is already on PATH or at
# /usr/sbin/mosquitto. Otherwise installs Debian's package with apt-get
# (through sudo when not running as root).
#
# Debian's package may start a system service listening on 1883. icugate's
# tests never use that service: internal/mosquittotest starts its own broker
# on a free 127.0.0.1 port with a generated config and a temporary
# persistence directory, so the two never collide.
set -euo pipefail

if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
	echo "mosquitto already installed: $(command -v mosquitto || echo /usr/sbin/mosquitto)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-mosquitto: not root and sudo missing; run as root: apt-get install -y mosquitto" >&2
		exit 1
	fi
	SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# policy-rc.d-free install: we do not need the service; tests start their own.
$SUDO apt-get install -y --no-install-recommends mosquitto

if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
	echo "mosquitto installed: $(command -v mosquitto || echo /usr/sbin/mosquitto)"
else
	echo "install-mosquitto: apt-get finished but mosquitto is not found" >&2
	exit 1
fi
