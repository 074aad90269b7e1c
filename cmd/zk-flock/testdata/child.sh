#!/bin/sh
# child.sh DIR [ignore-term]: the command of zk-flock's end-to-end signal
# tests. In DIR it records its pid (pid), the pid of a grandchild in its
# process group (gpid: a background sleep), every signal it gets with the
# Unix time in nanoseconds ("TERM 1700000000123456789" lines in signals),
# and "ready" once its traps are set. On SIGTERM it exits 3; with
# ignore-term it (and so the grandchild) ignores SIGTERM. Its own stderr
# (the shell's "Terminated" notices) goes to DIR/stderr, so that the
# tests see zk-flock's alone.
dir=$1
exec 2>>"$dir/stderr"
for sig in HUP USR1 USR2 QUIT; do
	trap "echo $sig \$(date +%s%N) >> $dir/signals" $sig
done
if [ "$2" = ignore-term ]; then
	trap '' TERM
else
	trap "echo TERM \$(date +%s%N) >> $dir/signals; exit 3" TERM
fi
sleep 300 >/dev/null 2>&1 &
echo $! > "$dir/gpid"
echo $$ > "$dir/pid"
echo ready > "$dir/ready"
# A trapped signal interrupts wait at once; a plain sleep would delay the
# trap until it ends.
while :; do
	sleep 1 &
	wait $!
done
