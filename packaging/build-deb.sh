#!/bin/sh
# build-deb.sh builds dist/zk-flock_<version>_<arch>.deb with nfpm and
# prints its path. `make deb` runs it from the repository's root.
#
# Environment: VERSION (the Makefile's, mapped by deb-version.sh; or set
# DEB_VERSION), GOARCH (default: go env GOARCH), GO, NFPM (default: nfpm
# v2.45.2 by go run), DEB_MAINTAINER, SOURCE_DATE_EPOCH (default: the
# commit's time, so that a rebuild of one commit gives the same files),
# BUILD (staging directory, default dist/build), OUT (where the package
# goes, default dist).
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
NFPM=${NFPM:-"env GOFLAGS= $GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"}
GOARCH=${GOARCH:-$($GO env GOARCH)}
DEB_VERSION=${DEB_VERSION:-$(packaging/deb-version.sh "${VERSION:-dev}")}
DEB_MAINTAINER=${DEB_MAINTAINER:-"zk-flock maintainers <zk-flock-maintainers@users.noreply.github.com>"}
BUILD=${BUILD:-dist/build}
OUT=${OUT:-dist}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$COMMIT" != unknown ] && ! git diff --quiet HEAD -- 2>/dev/null; then
	COMMIT=$COMMIT-dirty
fi
case $GOARCH in
386) DEB_ARCH=i386 ;;
arm) DEB_ARCH=armhf ;;
ppc64le) DEB_ARCH=ppc64el ;;
*) DEB_ARCH=$GOARCH ;; # amd64, arm64, s390x, riscv64 are spelled alike
esac
export DEB_VERSION DEB_ARCH DEB_MAINTAINER BUILD SOURCE_DATE_EPOCH

rm -rf "$BUILD"
mkdir -p "$BUILD/doc" "$OUT"

# Static binaries (no cgo: the package depends on nothing), zk-flock stamped
# with the package's version and the commit, and its metrics helper.
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH $GO build -trimpath \
	-ldflags "-s -w -X main.version=$DEB_VERSION -X main.commit=$COMMIT" \
	-o "$BUILD/zk-flock" ./cmd/zk-flock
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH $GO build -trimpath -ldflags "-s -w" \
	-o "$BUILD/zk-flock-metrics" ./cmd/zk-flock-metrics

# The man page and the completions come from the flag definitions, through
# the binary's hidden --generate flag (a host build when cross-compiling).
gen=$BUILD/zk-flock
if [ "$GOARCH" != "$($GO env GOHOSTARCH)" ]; then
	gen=$BUILD/zk-flock-host
	GOOS=$($GO env GOHOSTOS) GOARCH=$($GO env GOHOSTARCH) $GO build -ldflags "-X main.version=$DEB_VERSION" -o "$gen" ./cmd/zk-flock
fi
"$gen" --generate man >"$BUILD/zk-flock.1"
"$gen" --generate bash >"$BUILD/zk-flock.bash"
"$gen" --generate zsh >"$BUILD/_zk-flock"
gzip -9n <"$BUILD/zk-flock.1" >"$BUILD/zk-flock.1.gz"

cp README.md "$BUILD/doc/"
for f in docs/*.md; do
	[ -e "$f" ] && cp "$f" "$BUILD/doc/"
done
{
	printf 'zk-flock (%s) unstable; urgency=medium\n\n' "$DEB_VERSION"
	printf '  * Go rewrite of zk-flock, a drop-in replacement for the Python zk-flock\n'
	printf '    0.1.x: same options, configuration file and ZooKeeper nodes.\n'
	printf '  * Built from commit %s.\n\n' "$COMMIT"
	printf ' -- %s  %s\n' "$DEB_MAINTAINER" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$BUILD/changelog.gz"

deb=$OUT/zk-flock_${DEB_VERSION}_${DEB_ARCH}.deb
rm -f "$deb"
$NFPM package --config packaging/nfpm.yaml --packager deb --target "$deb" >&2
echo "$deb"
