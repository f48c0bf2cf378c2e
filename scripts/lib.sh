# Shared helpers for the scripts in this directory. Source it; do not run it.
# shellcheck shell=bash

# ICUGATE_CACHE holds tools built once and reused between runs (influxd).
export ICUGATE_CACHE="${ICUGATE_CACHE:-$HOME/.cache/icugate}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root runs a command as root: directly when we are root, else with sudo.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# need_go fails early with a clear message when Go is missing or too old.
need_go() {
	command -v go >/dev/null 2>&1 || die "Go is not installed: install Go 1.26 or newer from https://go.dev/dl/ (or /usr/local/go/bin must be on PATH)"
	local v
	v=$(go env GOVERSION | sed 's/^go//')
	case "$v" in
	1.2[6-9]* | 1.[3-9]* | [2-9].*) ;;
	*) die "Go $v is too old: icugate needs Go 1.26 or newer" ;;
	esac
}

# apt_install installs Debian packages that are missing, running
# `apt-get update` first (a fresh machine has no package lists).
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "apt-get install ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
