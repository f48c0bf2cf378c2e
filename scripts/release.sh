#!/usr/bin/env bash
# release.sh builds every release artifact of icugate into dist/, in one
# command, on a Debian machine with Go (nothing is pulled from a container
# registry; the packaging tools are pinned Go modules built once into the
# tool cache):
#
#   scripts/release.sh [VERSION]
#
# VERSION defaults to `git describe --tags --dirty` (v1.2.3, or
# v1.2.3-4-gabcdef0 between tags), else 0.0.0-dev+COMMIT. The binaries
# carry it (icugate version); packages and archives use it without the v.
#
# dist/ then holds, for linux amd64, arm64 and armv7 (GOARM=7):
#   icugate_V_linux_ARCH.tar.gz  icugate, icusim, icuregion (static), the
#                                systemd unit, configs, profiles, docs
#   icugate_V_ARCH.deb, icugate-V-1.ARCH.rpm
#                                binaries in /usr/bin, the unit (disabled),
#                                /etc/icugate skeleton (conffiles), profiles
#                                in /usr/share/icugate/profiles, docs
#   icugate_V_sbom_CMD.cdx.json  CycloneDX SBOM of each command (cyclonedx-gomod)
#   icugate_V_checksums.txt      SHA-256 of all of the above
# and, not released but used to build images and by the tests:
#   build/linux_ARCH/            the binaries
#   container/                   the build context of
#                                deploy/docker/Dockerfile.release (scratch image)
#
# Why not goreleaser: the module proxy here serves goreleaser/v2 only from
# an unapproved copy; go build, nfpm (the packager goreleaser itself uses)
# and cyclonedx-gomod do the same job, pinned below.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_go

NFPM_VERSION=v2.48.0
CYCLONEDX_GOMOD_VERSION=v1.10.0
ARCHES=(amd64 arm64 armv7)
COMMANDS=(icugate icusim icuregion)
# Commands that do not build for an architecture, and why; said loudly in
# every run, left out of that architecture's archive and packages, and
# checked by scripts/test-packaging.sh. Remove a line once it builds.
#   icuregion/armv7: github.com/xuri/excelize/v2 v2.9.1 (the region's XLSX
#     export) does not compile for 32-bit ARM (math.MaxUint32 overflows
#     int); fixed in excelize v2.10.0. icuregion runs on the region's
#     server, not on a 32-bit edge box; icugate and icusim build.
UNBUILT=(icuregion/armv7)

version="${1:-}"
if [ -z "$version" ]; then
	version=$(git describe --tags --dirty 2>/dev/null || true)
fi
if [ -z "$version" ]; then
	commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	version="0.0.0-dev+${commit}"
	if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		version="${version}.dirty"
	fi
fi
v="${version#v}"
[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]] ||
	die "version $version is not semantic (want v1.2.3, 1.2.3-rc.1 or a git describe of such a tag)"

apt_install ca-certificates
tools="$ICUGATE_CACHE/bin"

# Archive entries get the commit's time, so the same commit gives the same
# tarballs (the binaries are reproducible with -trimpath already).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

dist=dist
rm -rf "$dist"
mkdir -p "$dist/build"
log "icugate $version into $dist/"

# The packaging tools build once into the tool cache (minutes on a fresh
# machine): in the background, while the binaries compile.
mkdir -p "$ICUGATE_CACHE"
toollog=$(mktemp "$ICUGATE_CACHE/.release-tools.XXXXXX")
(
	scripts/install-gotool.sh nfpm github.com/goreleaser/nfpm/v2/cmd/nfpm "$NFPM_VERSION" &
	nfpm=$!
	scripts/install-gotool.sh cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "$CYCLONEDX_GOMOD_VERSION"
	cdx=$?
	wait "$nfpm" && exit "$cdx"
) >"$toollog" 2>&1 &
tools_pid=$!
trap 'kill $tools_pid 2>/dev/null || true; rm -f "$toollog"' EXIT

# goenv ARCH prints the GOARCH (and GOARM) of a release architecture.
goenv() {
	case "$1" in
	amd64) echo "GOARCH=amd64" ;;
	arm64) echo "GOARCH=arm64" ;;
	armv7) echo "GOARCH=arm GOARM=7" ;;
	*) die "unknown architecture $1" ;;
	esac
}
# nfpmarch ARCH prints nfpm's name of it (Debian armhf, RPM armv7hl).
nfpmarch() {
	case "$1" in
	armv7) echo arm7 ;;
	*) echo "$1" ;;
	esac
}

printf '%s\n' "${UNBUILT[@]}" >"$dist/build/UNBUILT"
for arch in "${ARCHES[@]}"; do
	out="$dist/build/linux_$arch"
	cmds=()
	for cmd in "${COMMANDS[@]}"; do
		if grep -qx "$cmd/$arch" "$dist/build/UNBUILT"; then
			log "NOT BUILT: $cmd for linux/$arch (see UNBUILT in scripts/release.sh)"
		else
			cmds+=("./cmd/$cmd")
		fi
	done
	log "go build linux/$arch"
	# Static (no cgo), with the time zone database inside: the container
	# image is FROM scratch and edge boxes may lack tzdata. -buildvcs=auto
	# puts the commit in (icugate version) even where GOFLAGS turns it off.
	env $(goenv "$arch") GOOS=linux CGO_ENABLED=0 \
		go build -trimpath -buildvcs=auto -tags timetzdata \
		-ldflags "-s -w -X main.version=$version" \
		-o "$out/" "${cmds[@]}"
done

host_arch=$(go env GOARCH)
if [ -x "$dist/build/linux_$host_arch/icugate" ]; then
	got=$("$dist/build/linux_$host_arch/icugate" version | head -1)
	[ "$got" = "icugate $version" ] || die "icugate version printed '$got', want 'icugate $version'"
fi

wait "$tools_pid" || { cat "$toollog" >&2; die "building the packaging tools failed"; }
grep -h 'install-gotool: .* built in' "$toollog" | sed 's/^install-gotool: /==> /' >&2 || true

for arch in "${ARCHES[@]}"; do
	name="icugate_${v}_linux_${arch}"
	stage="$dist/stage/$name"
	log "archive $name.tar.gz"
	mkdir -p "$stage/configs" "$stage/systemd" "$stage/prometheus"
	cp "$dist/build/linux_$arch"/* "$stage/"
	cp README.md "$stage/"
	cp -r docs "$stage/docs"
	cp -r configs/profiles configs/access configs/mosquitto configs/influxdb configs/region configs/scenarios "$stage/configs/"
	cp configs/README.md configs/icugate.sample.yaml configs/example-site.yaml configs/demo-site.yaml "$stage/configs/"
	cp deploy/nfpm/site.yaml.example "$stage/configs/"
	cp deploy/systemd/icugate.service "$stage/systemd/"
	cp deploy/prometheus/icugate.rules.yml "$stage/prometheus/"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
		-C "$dist/stage" -cf - "$name" | gzip -n >"$dist/$name.tar.gz"

	rm -rf "$dist/stage/bin"
	cp -r "$dist/build/linux_$arch" "$dist/stage/bin"
	# The package lists only the binaries built (an entry is 3 lines).
	awk '/^  - src: dist\/stage\/bin\// { f = substr($3, 1); if (system("test -e " f) != 0) { skip = 3 } }
		skip > 0 { skip--; next } { print }' deploy/nfpm/nfpm.yaml >"$dist/stage/nfpm.yaml"
	for packager in deb rpm; do
		log "nfpm $packager $arch"
		ICUGATE_VERSION="$v" ICUGATE_ARCH=$(nfpmarch "$arch") \
			"$tools/nfpm" package --config "$dist/stage/nfpm.yaml" --packager "$packager" --target "$dist/" >/dev/null
	done
done
rm -rf "$dist/stage"

for cmd in "${COMMANDS[@]}"; do
	log "SBOM $cmd (CycloneDX)"
	GOOS=linux GOARCH=amd64 "$tools/cyclonedx-gomod" app -json -std -licenses=false \
		-main "cmd/$cmd" -output "$dist/icugate_${v}_sbom_${cmd}.cdx.json" . 2>"$dist/sbom.log" ||
		{ cat "$dist/sbom.log" >&2; die "cyclonedx-gomod failed for $cmd"; }
done
rm -f "$dist/sbom.log"

# The build context of deploy/docker/Dockerfile.release: a scratch image
# needs its user, CA certificates and profiles handed to it as files.
log "container build context"
ctx="$dist/container"
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share/icugate" "$ctx/data"
for arch in "${ARCHES[@]}"; do
	mkdir -p "$ctx/linux_$arch"
	cp "$dist/build/linux_$arch/icugate" "$ctx/linux_$arch/"
done
# Debian's Mozilla set alone, never what this machine added to its own
# bundle (a proxy's or a company's CA must not ship in a release).
awk 1 /usr/share/ca-certificates/mozilla/*.crt >"$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
cp -r configs/profiles "$ctx/rootfs/usr/share/icugate/profiles"
printf 'root:x:0:0:root:/:/sbin/nologin\nicugate:x:65532:65532:icugate:/var/lib/icugate:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nicugate:x:65532:\n' >"$ctx/rootfs/etc/group"
cp deploy/docker/Dockerfile.release "$ctx/Dockerfile"
echo "$version" >"$ctx/VERSION"

log "checksums"
(cd "$dist" && sha256sum -- *.tar.gz *.deb *.rpm *.cdx.json >"icugate_${v}_checksums.txt" &&
	sha256sum --quiet -c "icugate_${v}_checksums.txt")

log "release $version:"
(cd "$dist" && ls -l -- *.tar.gz *.deb *.rpm *.cdx.json *_checksums.txt | awk '{printf "  %10d  %s\n", $5, $9}')
