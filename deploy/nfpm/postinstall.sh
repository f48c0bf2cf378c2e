#!/bin/sh
# postinstall of the icugate .deb and .rpm: the system user and its state
# directory. It does not enable or start the service: the gateway needs a
# site file first (and a started gateway with a wrong site would poll the
# wrong devices). dpkg passes "configure", rpm the count of installed
# versions; both are handled alike.
set -e

if ! getent group icugate >/dev/null; then
	groupadd --system icugate
fi
if ! getent passwd icugate >/dev/null; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid icugate --home-dir /var/lib/icugate --no-create-home \
		--shell "$nologin" --comment "icugate ICU edge gateway" icugate
fi
# Serial lines (Modbus RTU) belong to dialout on Debian and RHEL alike.
if getent group dialout >/dev/null; then
	usermod -a -G dialout icugate
fi

install -d -o icugate -g icugate -m 0750 /var/lib/icugate
chown root:root /etc/icugate/credentials
chmod 0700 /etc/icugate/credentials

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a gateway that was running; a first install
	# starts nothing.
	if systemctl is-active --quiet icugate.service; then
		systemctl try-restart icugate.service || true
	fi
fi

if [ ! -e /etc/icugate/site.yaml ]; then
	cat <<'HINT'
icugate is installed but not running. To start it:
  cp /etc/icugate/site.yaml.example /etc/icugate/site.yaml   # then edit it
  install -m 0600 SECRET-FILE /etc/icugate/credentials/NAME   # secrets the site names
  CREDENTIALS_DIRECTORY=/etc/icugate/credentials icugate check -c /etc/icugate/site.yaml
  systemctl enable --now icugate
Docs: /usr/share/doc/icugate/
HINT
fi
exit 0
