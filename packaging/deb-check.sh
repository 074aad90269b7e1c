#!/bin/sh
# deb-check.sh builds the zk-flock package and installs it on this machine,
# as an administrator would, in four scenarios; then it purges it and puts
# back what it moved, leaving the machine as it was. `make deb-check` runs
# it; CI runs it as root on a scratch machine. It refuses to run where a
# zk-flock package is installed already.
#
#  A. a host with the administrator's /etc/distributed-flock.json (owned by
#     no package): dpkg -i with stdin closed keeps it, does not prompt;
#     zk-flock --version, man -w zk-flock, the man page renders cleanly;
#     the completions load; reinstalling keeps the file too.
#  B. a host running the original Python zk-flock 0.1.3.2 (a stand-in built
#     here with nfpm: /usr/bin/zk-flock and python2 modules) with its
#     configuration: dpkg -i upgrades it, removes the python files, keeps
#     the configuration.
#  C. a host with no configuration: the example is installed; removed but
#     not purged and edited, a reinstall keeps the edit; purge removes it.
#  D. an upgrade to a later zk-flock keeps an edited configuration.
#
# It installs man-db and groff-base if they are missing (a fresh machine).
# Environment: as build-deb.sh (VERSION, GO, NFPM, GOARCH...).
set -eu
cd "$(dirname "$0")/.."

CONF=/etc/distributed-flock.json
KEEP=$CONF.zk-flock-keep
BACKUP=$CONF.deb-check-backup

if [ "${1:-}" != --installed-tests ]; then
	# Build as the invoking user, then test as root.
	deb=$(packaging/build-deb.sh | tail -n 1)
	next_version=$(dpkg-deb -f "$deb" Version)+deb.check.next
	# The later version and the original's stand-in go apart, not to be
	# taken for the package.
	next=$(DEB_VERSION=$next_version BUILD=dist/deb-check/build OUT=dist/deb-check packaging/build-deb.sh | tail -n 1)
	fake=dist/deb-check/zk-flock_0.1.3.2_all.deb
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/fake"
	cat >"$work/fake/zk-flock" <<-'EOF'
		#!/usr/bin/python
		# Stand-in for the original zk-flock 0.1.3.2, for deb-check.sh.
		from distributedflock import main
		main()
	EOF
	echo '# Stand-in for the original distributedflock package.' >"$work/fake/__init__.py"
	cat >"$work/fake/nfpm.yaml" <<-EOF
		name: zk-flock
		version: 0.1.3.2
		version_schema: none
		arch: all
		section: misc
		priority: extra
		maintainer: Anton Tyurin <noxiouz@yandex.ru>
		description: |-
		  Distributed flock
		  Distributed flock based on Zookeeper (stand-in for deb-check.sh)
		contents:
		  - src: $work/fake/zk-flock
		    dst: /usr/bin/zk-flock
		    file_info: {mode: 0755}
		  - src: $work/fake/__init__.py
		    dst: /usr/lib/python2.7/dist-packages/distributedflock/__init__.py
	EOF
	GO=${GO:-go}
	NFPM=${NFPM:-"env GOFLAGS= $GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"}
	rm -f "$fake"
	$NFPM package --config "$work/fake/nfpm.yaml" --packager deb --target "$fake" >&2
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO "$0" --installed-tests "$deb" "$next" "$fake"
	exit
fi

deb=$2 next=$3 fake=$4
ours=$(dpkg-deb -f "$deb" Version)
nextv=$(dpkg-deb -f "$next" Version)
export DEBIAN_FRONTEND=noninteractive

status() { dpkg-query -W -f='${db:Status-Abbrev}' zk-flock 2>/dev/null | tr -d ' '; }

case $(status) in
'' | un | pn) ;;
*)
	echo "deb-check: a zk-flock package is installed here ($(status)); this check would replace it." >&2
	echo "deb-check: run it on a scratch machine (CI), or dpkg --purge zk-flock first." >&2
	exit 1
	;;
esac
if [ -e "$KEEP" ] || [ -e "$BACKUP" ]; then
	echo "deb-check: $KEEP or $BACKUP exists: left over from an interrupted run? Put it back first." >&2
	exit 1
fi

if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
	# As make deps does for ZooKeeper: a fresh machine may lack them.
	echo "deb-check: installing man-db and groff-base, to read the man page"
	apt-get install -y --no-install-recommends man-db groff-base >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends man-db groff-base >/dev/null; }
fi

failed=0
pass() { echo "ok    $*"; }
fail() {
	echo "FAIL  $*"
	failed=$((failed + 1))
}
check() { # check DESCRIPTION COMMAND...: run the command, report
	what=$1
	shift
	if out=$("$@" 2>&1); then pass "$what"; else
		fail "$what"
		printf '%s\n' "$out" | sed 's/^/      /'
	fi
}
# install PKG: dpkg -i as a non-interactive tool runs it, stdin closed.
install() { dpkg -i "$1" </dev/null >"$log" 2>&1 || { cat "$log"; return 1; }; }
purge() { dpkg --purge zk-flock </dev/null >/dev/null 2>&1 || true; }
admin_conf() { # write an administrator's configuration, as the original's hosts have
	cat >"$CONF" <<-'EOF'
		{
		    "host": ["zk-a.internal:2181", "zk-b.internal:2181"],
		    "timeout": 3,
		    "app_id": "written_by_the_admin",
		    "logger": {"path": "/var/log/zkflock.log", "level": "INFO"}
		}
	EOF
	chmod 640 "$CONF"
	cp -p "$CONF" "$work/admin.json"
}
same_conf() { cmp -s "$CONF" "$work/admin.json" && [ "$(stat -c %a "$CONF")" = 640 ]; }
no_leftovers() { [ ! -e "$KEEP" ] && ! ls /etc/distributed-flock.json.dpkg-* >/dev/null 2>&1; }
gone() { case $(status) in '' | un | pn) return 0 ;; esac; return 1; }
installed() { [ "$(status)" = ii ] && [ "$(dpkg-query -W -f='${Version}' zk-flock)" = "$1" ]; }
man_renders() { # the man page renders through man(1) with groff warnings on, and says nothing on stderr
	errs=$(MANWIDTH=80 man --warnings=w -l "$(man -w zk-flock)" 2>&1 >/dev/null) || return 1
	[ -z "$errs" ] || { echo "$errs"; return 1; }
}

work=$(mktemp -d)
log=$work/dpkg.log
had_conf=
if [ -e "$CONF" ] || [ -L "$CONF" ]; then
	had_conf=1
	mv "$CONF" "$BACKUP"
fi
restore() {
	purge
	rm -f "$CONF" "$KEEP" "$CONF".dpkg-*
	if [ -n "$had_conf" ]; then mv "$BACKUP" "$CONF"; fi
	rm -rf "$work"
}
trap restore EXIT
trap 'exit 1' HUP INT TERM

echo "== A. install $deb over the administrator's $CONF (stdin closed)"
admin_conf
check "dpkg -i exits 0" install "$deb"
check "installed, version $ours" installed "$ours"
check "administrator's configuration kept (content and mode)" same_conf
check "nothing left beside it (.zk-flock-keep, .dpkg-*)" no_leftovers
check "zk-flock --version names $ours" sh -c "zk-flock --version | grep -F 'zk-flock $ours (commit '"
check "man -w zk-flock" sh -c 'test "$(man -w zk-flock)" = /usr/share/man/man1/zk-flock.1.gz'
if [ ! -e /usr/share/man/man1/zk-flock.1.gz ] && grep -rqs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d; then
	echo "      (this machine's dpkg skips man pages: path-exclude in /etc/dpkg/dpkg.cfg.d)"
fi
check "man page renders without warnings" man_renders
check "man zk-flock shows OPTIONS" sh -c 'MANPAGER=cat man zk-flock 2>/dev/null | grep -q "^OPTIONS"'
check "bash completion loads" bash -c '. /usr/share/bash-completion/completions/zk-flock && complete -p zk-flock'
check "examples installed" test -f /usr/share/doc/zk-flock/examples/zk-flock-example.timer
check "metrics helper writes a textfile" sh -c "echo '{\"lock\":\"L\",\"outcome\":\"ran\"}' | /usr/lib/zk-flock/zk-flock-metrics '$work/m.prom' && grep -qF 'zk_flock_last_outcome{lock=\"L\",outcome=\"ran\"} 1' '$work/m.prom'"
check "conffile registered" sh -c "dpkg-query -W -f='\${Conffiles}' zk-flock | grep -q ' $CONF '"
check "reinstall exits 0" install "$deb"
check "configuration still kept" same_conf
purge
check "purged" gone
rm -f "$CONF"

echo "== B. upgrade the original zk-flock 0.1.3.2 to $ours, keeping its configuration"
admin_conf
check "original installed" install "$fake"
check "original's python module present" test -f /usr/lib/python2.7/dist-packages/distributedflock/__init__.py
check "dpkg -i upgrades it, exits 0" install "$deb"
check "installed, version $ours" installed "$ours"
check "dpkg logged an upgrade from 0.1.3.2" grep -q "Unpacking zk-flock .* over (0.1.3.2)" "$log"
check "original's python files removed" test ! -e /usr/lib/python2.7/dist-packages/distributedflock
check "/usr/bin/zk-flock is ours: --version" sh -c "zk-flock --version | grep -qF '$ours'"
check "administrator's configuration kept" same_conf
check "nothing left beside it" no_leftovers
check "man -w zk-flock" man -w zk-flock
purge
rm -f "$CONF"

echo "== C. install on a host without configuration"
check "dpkg -i exits 0" install "$deb"
check "example configuration installed" cmp -s "$CONF" packaging/distributed-flock.json
check "dpkg -r keeps the configuration" sh -c "dpkg -r zk-flock </dev/null >/dev/null 2>&1 && test -f $CONF"
echo '{"host": ["zk-c.internal"], "timeout": 5, "app_id": "edited_after_remove"}' >"$CONF"
cp -p "$CONF" "$work/edited.json"
check "reinstall after remove exits 0" install "$deb"
check "edited configuration kept" cmp -s "$CONF" "$work/edited.json"
purge
check "purge removes the configuration" test ! -e "$CONF"

echo "== D. upgrade $ours to $nextv with an edited configuration"
admin_conf
check "install $ours" install "$deb"
echo '{"host": ["zk-d.internal"], "timeout": 5, "app_id": "edited"}' >"$CONF"
cp -p "$CONF" "$work/edited.json"
check "upgrade to $nextv exits 0" install "$next"
check "installed, version $nextv" installed "$nextv"
check "edited configuration kept" cmp -s "$CONF" "$work/edited.json"
purge

if [ "$failed" -gt 0 ]; then
	echo "deb-check: $failed check(s) failed"
	exit 1
fi
echo "deb-check: all checks passed; zk-flock purged, $CONF as it was"
