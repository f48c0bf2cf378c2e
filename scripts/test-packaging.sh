#!/usr/bin/env bash
# test-packaging.sh tests what hospital IT installs, the way they install
# it (.ci/run calls it after scripts/test.sh):
#
#   release    scripts/release.sh builds every artifact; each is checked
#              (architectures of the binaries, archive contents, checksums,
#              SBOMs, icugate version)
#   packages   the .deb and .rpm: files, conffiles, maintainer scripts
#   container  the scratch image from the release binary, run read-only on
#              the host network against the demo's InfluxDB, Mosquitto and
#              icusim: healthy, capacity served, points in InfluxDB, clean stop
#   systemd    the .deb in a Debian bookworm container that boots systemd:
#              start, health, reload, kill -9, journald, stop, exposure
#   arm64      the unit tests of config, pipeline, drivers/modbus and outbox
#              as arm64 binaries under qemu-user
#   dockerfile (only when named: minutes) the multi-stage Dockerfile, built
#              offline against a local stand-in for golang:1.26-bookworm
#
#   scripts/test-packaging.sh [STEP...]     # default: all, in this order
#
# Needs root (dockerd, debootstrap). Installs with apt-get what is missing
# (docker.io, debootstrap, qemu-user-static, rpm), starts dockerd when none
# runs (vfs storage, no bridge, no iptables) and stops what it started.
# Slow things are cached under $ICUGATE_CACHE: the packaging tools, the
# Debian root file system (scripts/install-debian-rootfs.sh), InfluxDB.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go
export PATH="$ICUGATE_CACHE/bin:$PATH"

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(release packages container systemd arm64)

work=$(mktemp -d /tmp/icugate-packaging.XXXXXX)
run_id="icugate-pkgtest-$$"
cleanups=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM ERR
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do
		eval "${cleanups[i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT INT TERM
on_exit() { cleanups+=("$1"); }
# A command that fails outside a check fails the run with its line.
set -E
trap 'fail "line $LINENO: $BASH_COMMAND exited $?"' ERR

passed=0
ok() {
	passed=$((passed + 1))
	printf 'ok   %s\n' "$*"
}
fail() {
	printf 'FAIL %s\n' "$*" >&2
	printf '0 passed, 1 failed\n'
	exit 1
}
# has PATTERN: grep -q that reads all of its input, so the command before
# it in a pipeline never dies of SIGPIPE (which pipefail would count).
has() { grep "$@" >/dev/null; }
timed() { # NAME COMMAND...: runs a step and says how long it took
	local name=$1 start=$SECONDS
	shift
	log "step $name"
	"$@"
	log "step $name: $((SECONDS - start)) s"
}

version() { cat dist/container/VERSION; }
pkgversion() { version | sed 's/^v//'; }

# elf_machine FILE prints the ELF e_machine of FILE: amd64, arm64 or arm.
elf_machine() {
	case "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' \n')" in
	3e00) echo amd64 ;;
	b700) echo arm64 ;;
	2800) echo arm ;;
	*) echo unknown ;;
	esac
}

step_release() {
	scripts/release.sh
	local v p
	v=$(version)
	p=$(pkgversion)
	for arch in amd64:amd64 arm64:arm64 armv7:arm; do
		local a=${arch%%:*} m=${arch##*:}
		for cmd in icugate icusim icuregion; do
			if grep -qx "$cmd/$a" dist/build/UNBUILT; then
				log "NOT BUILT (listed in scripts/release.sh, UNBUILT): $cmd for linux/$a"
				[ ! -e "dist/build/linux_$a/$cmd" ] || fail "$cmd/$a is listed as not built but was: remove it from UNBUILT"
				continue
			fi
			[ "$(elf_machine "dist/build/linux_$a/$cmd")" = "$m" ] || fail "dist/build/linux_$a/$cmd is not a linux/$m binary"
			# Static: no program interpreter means no libc needed.
			if readelf -l "dist/build/linux_$a/$cmd" | has 'program interpreter'; then
				fail "dist/build/linux_$a/$cmd is dynamically linked"
			fi
		done
		local tgz="dist/icugate_${p}_linux_${a}.tar.gz"
		[ -s "$tgz" ] || fail "no $tgz"
		tar -tzf "$tgz" >"$work/list"
		for f in icugate icusim README.md systemd/icugate.service configs/site.yaml.example \
			configs/icugate.sample.yaml configs/profiles/generic-ventilator-modbus.yaml docs/reporting.md \
			$(grep -qx "icuregion/$a" dist/build/UNBUILT || echo icuregion); do
			grep -qx "icugate_${p}_linux_${a}/$f" "$work/list" || fail "$tgz lacks $f"
		done
	done
	ok "release: static binaries for amd64, arm64, armv7; archives with unit, configs, profiles, docs$([ ! -s dist/build/UNBUILT ] || echo " (NOT BUILT: $(paste -sd' ' dist/build/UNBUILT))")"
	[ "$(ls dist/*.deb | wc -l)" = 3 ] && [ "$(ls dist/*.rpm | wc -l)" = 3 ] || fail "want 3 .deb and 3 .rpm in dist/"
	(cd dist && sha256sum --quiet -c "icugate_${p}_checksums.txt") || fail "checksums do not match"
	[ "$(wc -l <"dist/icugate_${p}_checksums.txt")" = 12 ] || fail "want 12 checksums (3 tar.gz, 3 .deb, 3 .rpm, 3 SBOMs)"
	ok "release: 3 .deb, 3 .rpm, SHA-256 checksums verified"
	for cmd in icugate icusim icuregion; do
		local sbom="dist/icugate_${p}_sbom_${cmd}.cdx.json"
		grep -q '"bomFormat": "CycloneDX"' "$sbom" || fail "$sbom is not a CycloneDX BOM"
		grep -q '"name": "github.com/icugate/icugate"' "$sbom" || fail "$sbom does not describe icugate"
	done
	grep -q 'pkg:golang/github.com/eclipse/paho' "dist/icugate_${p}_sbom_icugate.cdx.json" ||
		fail "the icugate SBOM does not list its MQTT client"
	ok "release: CycloneDX SBOMs of icugate, icusim, icuregion"
	local got
	got=$(dist/build/linux_amd64/icugate version | head -1)
	[ "$got" = "icugate $v" ] || fail "icugate version says '$got', want 'icugate $v'"
	ok "release: icugate version says $v"
}

step_packages() {
	apt_install rpm
	local deb rpm
	deb=$(ls dist/icugate_*_amd64.deb)
	rpm=$(ls dist/icugate-*.x86_64.rpm)
	dpkg-deb -I "$deb" >"$work/info"
	grep -q '^ Package: icugate$' "$work/info" || fail "$deb: not package icugate"
	grep -q "^ Version: $(pkgversion | sed 's/-/~/')-1$" "$work/info" || fail "$deb: wrong version: $(grep Version "$work/info")"
	grep -q '^ Architecture: amd64$' "$work/info" || fail "$deb: not amd64"
	dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' >"$work/files"
	for f in "-rwxr-xr-x root/root ./usr/bin/icugate" "-rwxr-xr-x root/root ./usr/bin/icusim" \
		"-rwxr-xr-x root/root ./usr/bin/icuregion" "-rw-r--r-- root/root ./lib/systemd/system/icugate.service" \
		"drwx------ root/root ./etc/icugate/credentials/" "-rw-r--r-- root/root ./etc/icugate/site.yaml.example" \
		"-rw-r--r-- root/root ./usr/share/icugate/profiles/generic-monitor-modbus.yaml" \
		"-rw-r--r-- root/root ./usr/share/doc/icugate/README.md"; do
		grep -qxF -- "$f" "$work/files" || fail "$deb lacks $f"
	done
	if grep -q '^[^ ]* [^ ]* ./etc/icugate/site.yaml$' "$work/files"; then
		fail "$deb ships /etc/icugate/site.yaml: a site must be written before anything runs"
	fi
	dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$work/conffiles"
	diff -u <(printf '/etc/icugate/icugate.sample.yaml\n/etc/icugate/site.yaml.example\n') "$work/conffiles" ||
		fail "$deb: conffiles differ"
	# The hint it prints (a here-document) may say how to start it.
	dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postinst | sed "/<<'HINT'/,/^HINT\$/d" >"$work/postinst"
	if grep -Eq 'systemctl (enable|start|restart)|deb-systemd-(invoke start|helper enable)' "$work/postinst"; then
		fail "$deb: postinst enables or starts the service"
	fi
	ok ".deb: binaries, unit, /etc/icugate skeleton (conffiles, credentials 0700), profiles, docs; postinst starts nothing"
	rpm -qp --list "$rpm" 2>/dev/null >"$work/rpmfiles"
	for f in /usr/bin/icugate /lib/systemd/system/icugate.service /etc/icugate/credentials /usr/share/icugate/profiles/generic-monitor-modbus.yaml; do
		grep -qx "$f" "$work/rpmfiles" || fail "$rpm lacks $f"
	done
	diff -u <(printf '/etc/icugate/icugate.sample.yaml\n/etc/icugate/site.yaml.example\n') \
		<(rpm -qp --configfiles "$rpm" 2>/dev/null) || fail "$rpm: config files differ"
	rpm -qp --scripts "$rpm" 2>/dev/null | has 'useradd --system' || fail "$rpm: no user made on install"
	ok ".rpm: files, %config(noreplace) files, install scripts"
}

. scripts/test-packaging-docker.sh
. scripts/test-packaging-systemd.sh

step_arm64() {
	apt_install qemu-user-static
	local total_pass=0 total_fail=0 total_skip=0 pkg
	for pkg in config pipeline drivers/modbus outbox; do
		local name=${pkg//\//_} start=$SECONDS
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go test -c -o "$work/$name.test" "./$pkg"
		[ "$(elf_machine "$work/$name.test")" = arm64 ] || fail "$name.test is not an arm64 binary"
		# Run in the package directory (testdata); no binfmt needed: qemu
		# is named. A test that starts a real server (none of these four
		# today) would start the amd64 one from the tool cache.
		local rc=0
		(cd "$pkg" && CI=true qemu-aarch64-static "$work/$name.test" -test.count=1 -test.timeout=10m -test.v) \
			>"$work/$name.log" 2>&1 || rc=$?
		local p f s
		p=$(grep -c -- '--- PASS' "$work/$name.log" || true)
		f=$(grep -c -- '--- FAIL' "$work/$name.log" || true)
		s=$(grep -c -- '--- SKIP' "$work/$name.log" || true)
		total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
		if [ "$rc" != 0 ]; then
			grep -B2 -A20 -- '--- FAIL' "$work/$name.log" | head -80 >&2 || tail -40 "$work/$name.log" >&2
			fail "arm64 $pkg under qemu: exit $rc ($p passed, $f failed)"
		fi
		if [ "$s" != 0 ]; then
			log "arm64 $pkg: skipped under qemu:"
			grep -B1 -- '--- SKIP' "$work/$name.log" | grep -v -- '^--$' | sed 's/^/    /' >&2
		fi
		ok "arm64 $pkg under qemu-aarch64: $p passed, $s skipped in $((SECONDS - start)) s"
	done
	log "arm64 tests: $total_pass passed, $total_fail failed, $total_skip skipped (no -race: the race detector needs cgo and a native arm64 toolchain)"
}

# What later steps install is installed while the release compiles (it is
# network- and disk-bound, the compiler CPU-bound): Debian's packages, in
# one apt-get run, and the Debian root file system (minutes, once).
prepare() {
	local pkgs=() s
	for s in "${steps[@]}"; do
		case "$s" in
		packages) pkgs+=(rpm) ;;
		container) pkgs+=(docker.io) ;;
		systemd | dockerfile) pkgs+=(docker.io debootstrap) ;;
		arm64) pkgs+=(qemu-user-static) ;;
		esac
	done
	[ ${#pkgs[@]} -eq 0 ] || apt_install "${pkgs[@]}"
	case " ${steps[*]} " in
	*" systemd "* | *" dockerfile "*) scripts/install-debian-rootfs.sh ;;
	esac
}
prepare >"$work/prepare.log" 2>&1 &
prepare_pid=$!
# Waited for, not killed, on a failure: apt-get and debootstrap end by themselves.
on_exit "wait $prepare_pid"
prepared() {
	[ -n "$prepare_pid" ] || return 0
	wait "$prepare_pid" || { cat "$work/prepare.log" >&2; fail "installing what the tests need failed"; }
	prepare_pid=""
	grep -h '^==> install-debian-rootfs: .* in [0-9]* s$' "$work/prepare.log" >&2 || true
}

for s in "${steps[@]}"; do
	[ "$s" = release ] || prepared
	case "$s" in
	release | packages | container | systemd | arm64 | dockerfile) timed "$s" "step_$s" ;;
	*) die "unknown step $s (want release, packages, container, systemd, arm64, dockerfile)" ;;
	esac
done
printf 'packaging: %d passed, 0 failed\n' "$passed"
