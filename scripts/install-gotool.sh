#!/usr/bin/env bash
# install-gotool.sh builds one pinned Go command into the tool cache, once.
#
#   scripts/install-gotool.sh NAME PACKAGE VERSION
#
# e.g. install-gotool.sh promtool github.com/prometheus/prometheus/cmd/promtool v0.316.0
#
#   ICUGATE_CACHE  cache root (default $HOME/.cache/icugate); the binary lands
#                  in $ICUGATE_CACHE/bin/NAME, its version in bin/.NAME-version.
#
# The build is skipped when the pinned version is already there. It needs
# only the Go toolchain and the Go module proxy. The test command uses it for
# the real servers the integration tests start (promtool, Alertmanager,
# mailpit).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 NAME PACKAGE VERSION" >&2; exit 2; }
name="$1" pkg="$2" version="$3"
cache="${ICUGATE_CACHE:-${HOME}/.cache/icugate}"
bin="${cache}/bin"
target="${bin}/${name}"
stamp="${bin}/.${name}-version"

if [[ -x "${target}" && "$(cat "${stamp}" 2>/dev/null)" == "${version}" ]]; then
	echo "install-gotool: ${name} ${version} already present, skipping build"
	exit 0
fi

mkdir -p "${bin}"
echo "install-gotool: building ${name} ${version} into ${bin} (takes minutes, once)"
start=$(date +%s)
# go install names the binary after the package's last element, skipping a
# major-version suffix (github.com/nats-io/nats-server/v2 → nats-server).
GOFLAGS="" CGO_ENABLED=0 GOBIN="${bin}" go install "${pkg}@${version}"
elem="$(basename "${pkg}")"
[[ "${elem}" =~ ^v[0-9]+$ ]] && elem="$(basename "$(dirname "${pkg}")")"
built="${bin}/${elem}"
[ "${built}" = "${target}" ] || mv -f "${built}" "${target}"
echo "${version}" >"${stamp}"
echo "install-gotool: ${name} ${version} built in $(( $(date +%s) - start )) s"
