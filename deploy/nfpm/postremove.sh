#!/bin/sh
# postremove of the icugate .deb and .rpm: forget the removed unit. The
# user, /etc/icugate and /var/lib/icugate (state.db, outbox: points not yet
# delivered) stay; dpkg --purge removes the conffiles, the data is removed
# by hand.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
