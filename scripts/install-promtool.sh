#!/usr/bin/env bash
# install-promtool.sh builds promtool (Prometheus v3, module v0.316.0) into
# the tool cache, so the test command can check and unit-test the shipped
# alerting rules (deploy/prometheus). See install-gotool.sh.
set -euo pipefail
exec "$(dirname "$0")/install-gotool.sh" promtool github.com/prometheus/prometheus/cmd/promtool v0.316.0
