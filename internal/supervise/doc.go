// Package supervise runs a child command in its own process group and kills its whole tree on demand.
//
// It knows nothing of locks: the caller (cmd/zk-flock) starts the command
// with Start once it holds the lock, and must see TreeDone closed before it
// lets the lock go, so that no process of the command outlives the lock.
//
// # The tree
//
// The child runs in a new process group; everything it starts stays in that
// group unless it moves itself out (setsid, setpgid: daemons, `setsid cmd`,
// some shells' job control). Stop and Kill signal the group with one
// kill(-pgid), which reaches every member, even one forking at that moment.
//
// For the processes that left the group, Stop and Kill also scan /proc and
// signal every process that descends from the direct child, from a member
// of the group, or, if this process is a child subreaper (EnableSubreaper),
// from an orphan of the tree that this process adopted. With the subreaper,
// a process whose parent dies is adopted by this process, not by init, so
// the tree stays attached to this process however it forks, and the kill is
// repeated until nothing of it remains: when SIGKILL takes an intermediate
// process, the processes below it come to us and are killed at the next
// poll. TreeDone waits for all of it.
//
// # What escapes
//
//   - Without the subreaper: a process that left the group and whose parent
//     had already exited when the kill came (`setsid daemon &` from a shell
//     that then exits, the classic double fork). It was adopted by init and
//     nothing links it to the tree any more. Also, without the subreaper, a
//     process forked by an escaped process between the scan and its SIGKILL.
//   - Always: work handed to a process outside the tree — a job queued with
//     at, systemd-run, a container runtime, ssh to another host, any request
//     to an already running daemon.
//   - Always: a process in uninterruptible sleep (state D, e.g. on a hung NFS
//     mount) dies only when the kernel lets it; TreeDone waits for it.
//   - A process of another user (a setuid program) cannot be signalled
//     unless this process runs as root; TreeDone waits for it.
//   - With the subreaper, the sweep cannot tell whose an orphan is: it takes
//     every child of this process that appeared after Start, outside this
//     process's own group, outside another Child's group. Other code of the
//     same process that starts processes in a new group (Setpgid, Setsid)
//     while a Child is being killed would have them killed too; zk-flock
//     starts none. Run one Child at a time with the subreaper.
//   - As PID 1 (a container's init) this process adopts every orphan of the
//     container and is treated as a subreaper: orphans of processes that
//     `docker exec` started after Start are taken for the tree's too.
//   - In a terminal, the child's group is a background job: a child that
//     reads the terminal is stopped by SIGTTIN (cron jobs have no terminal).
//
// Signals by pid (to escaped processes) carry the usual small risk of pid
// reuse between the scan and the kill, which needs the pid counter to wrap
// around within microseconds. The group id stays reserved while any member,
// even a zombie, remains, and the direct child is signalled only until it
// has been reaped.
//
// # Descriptors and Pdeathsig
//
// The child inherits descriptors 0, 1 and 2 and no other: Start marks the
// others close-on-exec (see Start). Pdeathsig is bound to the OS thread that
// forked: the Child keeps that thread for the child's whole life.
//
// # Zombies
//
// kill(pgid, 0) succeeds while a zombie member remains. The Child reaps the
// direct child itself (wait4 on its pid, never wait4(-1), so children of
// other code in this process are left alone) and, with the subreaper, every
// orphan of the tree. A group of zombies only whose parent never reaps them
// (init in some containers does not) counts as gone once two scans of /proc
// find no live member.
//
// # Cost
//
// A scan of /proc reads a file per process of the machine, about 10 µs
// each: milliseconds on a busy host. A command that ends leaving nothing
// behind costs none. With the subreaper, Start scans only if this process
// already has children (to know them, and spare them), and once the direct
// child has been reaped, no child left at all proves the tree gone: every
// live process of the tree has a chain of live parents up to this process,
// since the orphans come to it. The scans are for the rest: on the way to
// killing a tree, and while something of it, or another child of this
// process, remains.
package supervise
