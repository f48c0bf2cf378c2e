#!/usr/bin/env bash
# install-promtool.sh builds promtool (Prometheus v3, module v0.316.0) into
# the tool cache, so the test command can check and unit-test the shipped
# alerting rules (deploy/prometheus).
#
#   ICUGATE_CACHE  cache root (default $HOME/.cache/icugate); the binary lands
#                  in $ICUGATE_CACHE/bin/promtool.
#
# The build (several minutes, once) is skipped when the pinned version is
# already there. It needs only the Go toolchain and the Go module proxy.
set -euo pipefail

version="v0.316.0"
cache="${ICUGATE_CACHE:-${HOME}/.cache/icugate}"
bin="${cache}/bin"
target="${bin}/promtool"
stamp="${bin}/.promtool-version"

if [[ -x "${target}" && "$(cat "${stamp}" 2>/dev/null)" == "${version}" ]]; then
	echo "install-promtool: ${target} ${version} already present, skipping build"
	exit 0
fi

mkdir -p "${bin}"
echo "install-promtool: building promtool ${version} into ${bin} (takes minutes)"
GOFLAGS="" CGO_ENABLED=0 GOBIN="${bin}" \
	go install "github.com/prometheus/prometheus/cmd/promtool@${version}"
echo "${version}" >"${stamp}"
"${target}" --version | head -1
