#!/usr/bin/env bash
# install-debian-rootfs.sh makes, once, a minimal Debian bookworm root file
# system that boots systemd, as a tarball in the tool cache, and prints its
# path. scripts/test-packaging.sh imports it into Docker to install the
# .deb under a real systemd.
#
#   ICUGATE_CACHE          cache root (default $HOME/.cache/icugate); the
#                          tarball is $ICUGATE_CACHE/rootfs/NAME.tar.gz
#   ICUGATE_DEBIAN_MIRROR  Debian mirror (default: the first Debian one of
#                          this machine's apt sources, else deb.debian.org)
#
# debootstrap (Debian's package) fetches the packages from the mirror: a
# few minutes, once. The name carries a stamp of what is inside; change the
# stamp (or the package list) and the next run makes a new one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SUITE=bookworm
# systemd as init, dbus for systemctl's bus, mosquitto as a broker that
# needs a password, curl to ask the gateway.
PACKAGES=systemd,systemd-sysv,dbus,mosquitto,curl,ca-certificates
STAMP=v1
name="debian-${SUITE}-systemd-${STAMP}"
dir="$ICUGATE_CACHE/rootfs"
tarball="$dir/$name.tar.gz"

if [ -s "$tarball" ]; then
	log "install-debian-rootfs: $tarball already present"
	echo "$tarball"
	exit 0
fi

# debian_mirror prints the first Debian archive (not security) that apt
# uses here, so debootstrap goes where apt-get already may.
debian_mirror() {
	local u
	u=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian/?' | grep -v -- '-security' | head -1 || true)
	echo "${u:-http://deb.debian.org/debian}"
}
mirror="${ICUGATE_DEBIAN_MIRROR:-$(debian_mirror)}"

apt_install debootstrap
mkdir -p "$dir"
work=$(mktemp -d "$dir/.build-XXXXXX")
trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
log "install-debian-rootfs: debootstrap $SUITE from $mirror (minutes, once)"
start=$(date +%s)
as_root debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -30 "$work/debootstrap.log" >&2
	die "debootstrap failed (log above)"
}
# No package lists or downloaded .debs in the image: nothing is installed
# in it later but from files.
as_root rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
as_root tar --numeric-owner -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .
mv "$work/rootfs.tar.gz" "$tarball"
log "install-debian-rootfs: $tarball in $(($(date +%s) - start)) s"
echo "$tarball"
