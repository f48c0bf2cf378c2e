#!/bin/sh
# preremove of the icugate .deb and .rpm: stop and disable the service when
# the package goes away (dpkg: "remove"; rpm: 0 versions left), not on an
# upgrade.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now icugate.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
