#!/bin/sh
# deb-version.sh VERSION prints the Debian package version for the
# Makefile's VERSION (git describe --tags --always --dirty, without "v"):
#
#   1.2.3                      -> 1.2.3
#   1.2.3-rc1                  -> 1.2.3~rc1            (sorts before 1.2.3)
#   1.2.3-4-gabc1234[-dirty]   -> 1.2.3+4.gabc1234[.dirty]
#   abc1234[-dirty] (no tag)   -> 1.0.0~git<commit time, UTC>.abc1234[.dirty]
#   dev, or anything else      -> 1.0.0~dev
#
# Every result must sort above the original Python zk-flock's versions
# (0.1-beta1 ... 0.1.3.2), or dpkg would see a downgrade: checked here.
set -eu

v=${1:-dev}
dirty=
case $v in *-dirty) dirty=.dirty; v=${v%-dirty} ;; esac

# The first version of the Go rewrite, for builds between tags.
base=1.0.0

if printf '%s\n' "$v" | grep -Eq -- '^.+-[0-9]+-g[0-9a-f]+$'; then
	# TAG-N-gHASH: N commits after TAG.
	hash=${v##*-g}
	rest=${v%-g*}
	n=${rest##*-}
	tag=$(printf '%s' "${rest%-*}" | tr - '~')
	deb=$tag+$n.g$hash$dirty
elif printf '%s\n' "$v" | grep -Eq '^[0-9a-f]{7,40}$' && git rev-parse -q --verify "$v^{commit}" >/dev/null 2>&1 && [ -z "$(git tag -l "$v")" ]; then
	# A bare commit: no tag yet.
	when=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S "$v")
	deb=$base~git$when.$v$dirty
elif printf '%s\n' "$v" | grep -Eq '^[0-9][A-Za-z0-9.~-]*$'; then
	# A tag.
	deb=$(printf '%s' "$v" | tr - '~')
	[ -z "$dirty" ] || deb=$deb+dirty
else
	deb=$base~dev
fi

if ! printf '%s\n' "$deb" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$'; then
	echo "deb-version.sh: $1 gives $deb, not a Debian version" >&2
	exit 1
fi
if command -v dpkg >/dev/null && ! dpkg --compare-versions "$deb" gt 0.1.3.2; then
	echo "deb-version.sh: $1 gives $deb, which does not sort above the original zk-flock 0.1.3.2" >&2
	exit 1
fi
printf '%s\n' "$deb"
