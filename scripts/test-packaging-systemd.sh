# The systemd step of scripts/test-packaging.sh, which sources this file:
# the .deb installed into a Debian bookworm container that boots systemd
# (root file system made once by scripts/install-debian-rootfs.sh), then
# what hospital IT does with it: start, health, reload, a crash, the
# journal, stop, and what systemd-analyze security says of the unit.
# shellcheck shell=bash

# docker_caps prints a --cap-add for each capability this machine's
# bounding set holds. --privileged asks for every one and fails where one
# is missing (CAP_SYS_RESOURCE in some sandboxes, this one among them).
docker_caps() {
	local names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
		LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
		SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
		SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
		MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
	local bnd i
	bnd=$((16#$(awk '/^CapBnd/ {print $2}' /proc/self/status)))
	for i in "${!names[@]}"; do
		if (((bnd >> i) & 1)); then printf -- '--cap-add=%s ' "${names[i]}"; fi
	done
}

# The site of the test: four Modbus devices served by icusim inside the
# container, and a broker that refuses anonymous clients, so the gateway is
# healthy only with the MQTT login from its credentials. No InfluxDB token
# and no report key: optional secrets that are simply absent.
systemd_site='hospital: {id: packaging-test, name: Packaging Test Hospital, level: secondary, total_beds: 100, region: test}
target_year: 2027
profiles_dir: /usr/share/icugate/profiles
units:
  - {id: icu, name: ICU, class: general, beds: [icu-01, icu-02]}
devices:
  - {id: icu-01-mon, kind: monitor, profile: generic-monitor-modbus, at: icu-01, modbus: {address: "127.0.0.1:15502", unit_id: 1}}
  - {id: icu-01-vent, kind: ventilator, profile: generic-ventilator-modbus, at: icu-01, modbus: {address: "127.0.0.1:15502", unit_id: 2}}
  - {id: icu-02-mon, kind: monitor, profile: generic-monitor-modbus, at: icu-02, modbus: {address: "127.0.0.1:15502", unit_id: 3}}
  - {id: icu-02-vent, kind: ventilator, profile: generic-ventilator-modbus, at: icu-02, modbus: {address: "127.0.0.1:15502", unit_id: 4}}
mqtt:
  broker: tcp://127.0.0.1:1883
  username_file: $CREDENTIALS_DIRECTORY/mqtt-username
  password_file: $CREDENTIALS_DIRECTORY/mqtt-password
outbox: {dir: /var/lib/icugate/outbox}
http:
  listen: 127.0.0.1:8080
  token_file: $CREDENTIALS_DIRECTORY/api-tokens
'

step_systemd() {
	docker_up
	local tarball base ct="$run_id-systemd"
	tarball=$(scripts/install-debian-rootfs.sh | tail -1)
	base="icugate-systemd-base:$(basename "$tarball" .tar.gz)"
	$DOCKER image inspect "$base" >/dev/null 2>&1 || $DOCKER import "$tarball" "$base" >/dev/null
	on_exit "$DOCKER rmi -f $base"
	# systemd leaves mount propagation to a container manager: / must be
	# shared, or the credentials systemd prepares in a child mount
	# namespace never show in /run/credentials. On cgroup v2, systemd needs
	# its (private) cgroup tree writable.
	# shellcheck disable=SC2046
	$DOCKER run -d --name "$ct" $(docker_caps) --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
		--cgroupns=private --network none --tmpfs /run --tmpfs /run/lock -e container=docker \
		--stop-signal SIGRTMIN+3 "$base" /bin/sh -c \
		'mount --make-rshared / && { [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] || mount -o remount,rw /sys/fs/cgroup; } && exec /sbin/init' >/dev/null
	on_exit "$DOCKER rm -f -v $ct"
	in_ct() { $DOCKER exec "$ct" "$@"; }
	booted() { in_ct systemctl is-system-running | has -E '^(running|degraded)$'; }
	wait_for 60 boot booted || fail "systemd did not boot in the container: $(in_ct systemctl is-system-running 2>&1)"
	ok "systemd: Debian bookworm container booted systemd $(in_ct systemctl --version | awk 'NR==1 {print $2}')"

	$DOCKER cp "$(ls dist/icugate_*_amd64.deb)" "$ct:/tmp/icugate.deb"
	in_ct dpkg -i /tmp/icugate.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
	grep -q 'icugate is installed but not running' "$work/dpkg.log" || fail "dpkg -i printed no hint how to start"
	[ "$(in_ct systemctl is-enabled icugate)" = disabled ] || fail "the package enabled the service"
	in_ct systemctl is-active icugate >/dev/null && fail "the package started the service"
	in_ct id -nG icugate | has -w dialout || fail "the icugate user is not in dialout"
	[ "$(in_ct stat -c '%U %a' /var/lib/icugate /etc/icugate/credentials | paste -sd,)" = "icugate 750,root 700" ] ||
		fail "wrong owner or mode of /var/lib/icugate or /etc/icugate/credentials"
	[ -z "$(in_ct systemd-analyze verify icugate.service 2>&1)" ] || fail "systemd-analyze verify: $(in_ct systemd-analyze verify icugate.service 2>&1)"
	in_ct icugate check -c /etc/icugate/site.yaml.example >/dev/null || fail "the installed site.yaml.example does not check"
	ok "systemd: dpkg -i: user icugate (dialout), /var/lib/icugate, service disabled and stopped; unit verifies; example site checks"

	printf '%s' "$systemd_site" | $DOCKER exec -i "$ct" sh -c 'cat >/etc/icugate/site.yaml'
	$DOCKER exec -i "$ct" bash -euo pipefail -s >"$work/setup.log" 2>&1 <<-'EOF' || { cat "$work/setup.log" >&2; fail "setting up the site failed"; }
		printf 'listener 1883 127.0.0.1\nallow_anonymous false\npassword_file /etc/mosquitto/passwd\n' >/etc/mosquitto/conf.d/icugate-test.conf
		mosquitto_passwd -c -b /etc/mosquitto/passwd icugate broker-s3cret
		chown mosquitto: /etc/mosquitto/passwd
		systemctl restart mosquitto
		umask 077
		echo icugate >/etc/icugate/credentials/mqtt-username
		echo broker-s3cret >/etc/icugate/credentials/mqtt-password
		echo 'ops admin 0123456789abcdef0123456789abcdef' >/etc/icugate/credentials/api-tokens
		CREDENTIALS_DIRECTORY=/etc/icugate/credentials icugate check -c /etc/icugate/site.yaml
		systemd-run --unit icusim /usr/bin/icusim -c /etc/icugate/site.yaml -listen 127.0.0.1:8090
	EOF
	in_ct systemctl enable --now icugate >"$work/start.log" 2>&1 || {
		cat "$work/start.log" >&2
		in_ct journalctl -u icugate --no-pager -n 30 >&2
		fail "systemctl enable --now icugate failed"
	}
	wait_for 30 health in_ct icugate health || fail "not healthy after start: $(in_ct icugate health 2>&1)"
	in_ct journalctl -u icugate -o cat | has 'msg="mqtt connected"' || fail "no MQTT connection (login from the credentials)"
	[ "$(in_ct systemctl show -p StatusText --value icugate)" = ready ] || fail "status line: $(in_ct systemctl show -p StatusText --value icugate)"
	ok "systemd: enable --now: active, Type=notify ready, healthy; MQTT login from /etc/icugate/credentials, absent optional secrets fine"

	in_ct sed -i 's/beds: \[icu-01, icu-02\]/beds: [icu-01, icu-02, icu-03]/' /etc/icugate/site.yaml
	in_ct systemctl reload icugate || fail "systemctl reload failed: $(in_ct journalctl -u icugate --no-pager -n 5)"
	wait_for 15 reload bash -c "$DOCKER exec $ct curl -fsS http://127.0.0.1:8080/api/v1/capacity | grep -q '\"beds_total\":3'" ||
		fail "the reloaded site (3 beds) is not served"
	in_ct sed -i 's/^target_year: 2027$/target_year: 2027\nno_such_key: 1/' /etc/icugate/site.yaml
	in_ct systemctl reload icugate
	wait_for 10 rejection bash -c "$DOCKER exec $ct journalctl -u icugate -o cat | grep -q 'no_such_key'" ||
		fail "a broken site was not reported on reload"
	in_ct icugate health >/dev/null || fail "a rejected reload made the gateway unhealthy"
	in_ct curl -fsS http://127.0.0.1:8080/api/v1/capacity | has '"beds_total":3' || fail "a rejected reload changed the site"
	in_ct sed -i '/^no_such_key: 1$/d' /etc/icugate/site.yaml
	ok "systemd: reload applies a changed site (3 beds); a broken one is rejected whole, the gateway stays healthy"

	local pid npid
	pid=$(in_ct systemctl show -p MainPID --value icugate)
	in_ct bash -c "kill -9 $pid"
	restarted() {
		npid=$(in_ct systemctl show -p MainPID --value icugate)
		[ "$npid" != 0 ] && [ "$npid" != "$pid" ] && [ "$(in_ct systemctl is-active icugate)" = active ]
	}
	wait_for 30 restart restarted || fail "not restarted after kill -9"
	wait_for 30 health in_ct icugate health || fail "not healthy after the restart"
	ok "systemd: kill -9 $pid: restarted by systemd as $npid (NRestarts=$(in_ct systemctl show -p NRestarts --value icugate)), healthy"

	local runs
	runs=$(in_ct journalctl -u icugate -o cat | grep -c 'msg="icugate running"' || true)
	[ "$runs" -ge 2 ] || fail "journald holds $runs starts of icugate, want 2"
	in_ct journalctl -u icugate -o cat | has 'msg="config reloaded"' || fail "no reload in the journal"
	ok "systemd: journald holds both starts, the reload and the rejection"

	local start=$SECONDS
	in_ct systemctl stop icugate
	[ "$(in_ct systemctl show -p Result --value icugate)" = success ] &&
		[ "$(in_ct systemctl show -p ExecMainStatus --value icugate)" = 0 ] ||
		fail "stop was not clean: $(in_ct systemctl show -p Result -p ExecMainStatus -p ExecMainCode icugate | paste -sd' ')"
	in_ct journalctl -u icugate -o cat | has 'icugate stopped' || fail "no 'icugate stopped' in the journal"
	ok "systemd: systemctl stop: exit 0, result success, in $((SECONDS - start)) s"

	in_ct systemd-analyze security icugate.service --no-pager >"$work/security.txt" 2>&1 || true
	local exposure
	exposure=$(sed -n 's/.*Overall exposure level for icugate.service: \([0-9.]*\).*/\1/p' "$work/security.txt")
	[ -n "$exposure" ] || { cat "$work/security.txt" >&2; fail "no exposure from systemd-analyze security"; }
	log "systemd-analyze security icugate.service, what is not restricted:"
	grep '✗' "$work/security.txt" | awk '{ $NF=""; print "    " $0 }' | cut -c1-110 >&2 || true
	awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure: the unit's sandbox got weaker (was 1.5)"
	ok "systemd: systemd-analyze security icugate.service: exposure $(sed -n 's/.*Overall exposure level for icugate.service: \([0-9.]* [A-Z]*\).*/\1/p' "$work/security.txt")"

	in_ct dpkg -r icugate >/dev/null 2>&1 || fail "dpkg -r failed"
	in_ct test ! -e /usr/bin/icugate -a -e /etc/icugate/site.yaml -a -e /etc/icugate/credentials/mqtt-password ||
		fail "dpkg -r: binary left or site/credentials removed"
	[ "$(in_ct systemctl is-enabled icugate 2>&1)" != enabled ] || fail "dpkg -r left the service enabled"
	ok "systemd: dpkg -r removes the package and disables the service, keeps the site and its secrets"
	$DOCKER stop -t 20 "$ct" >/dev/null
}
