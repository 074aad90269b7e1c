/*
 * child is the command zk-flock runs under the lock in zk-flock-bench. It
 * reports to the bench over a Unix socket, with CLOCK_MONOTONIC timestamps
 * that the bench compares with its own:
 *
 *   child SOCKET        report "S pid ppid token t_start", then wait for "x";
 *                       on "x" report "X t_exit" and exit 0
 *   child SOCKET group  as above, but first start a grandchild in the same
 *                       process group that holds the socket too, so that the
 *                       bench sees EOF only when the whole group is dead
 *   child -measure PROG ARG...
 *                       run PROG (an absolute path) with stdout on /dev/null,
 *                       wait4 for it and print "wall_ns cpu_ns maxrss_kib
 *                       status" on stdout
 *
 * It is C, built static by the bench (cc -O2 -static), so that t_start is
 * read within microseconds of the exec: a handoff ends when the next
 * command runs, not when a language runtime has finished starting (a Go
 * helper reads its first clock some 0.7 ms after the exec on these
 * machines, time the bench used to count as zk-flock's).
 *
 * The bench measures whole processes through -measure rather than from its
 * own process because a child's ru_maxrss starts at the RSS of the process
 * that forked it (the kernel carries the old mm's high-water mark across
 * exec); this launcher's is a fraction of a megabyte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *what)
{
	fprintf(stderr, "zk-flock-bench child: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void writeall(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			fail("write");
		}
		s += w;
		n -= (size_t)w;
	}
}

/*
 * measure runs argv, waits for it and prints its cost; it exits 0 whatever
 * argv's status (which it prints), 2 if argv could not be run.
 */
static void measure(char **argv)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		fail("open /dev/null");
	int report[2]; /* the exec's errno, if it fails; closed by a successful exec */
	if (pipe2(report, O_CLOEXEC) < 0)
		fail("pipe");
	long long t0 = now();
	pid_t pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		dup2(null, 1);
		execve(argv[0], argv, environ);
		int e = errno;
		if (write(report[1], &e, sizeof e) < 0)
			_exit(2);
		_exit(2);
	}
	close(report[1]);
	int e = 0;
	ssize_t r;
	while ((r = read(report[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	int ws;
	struct rusage ru;
	while (wait4(pid, &ws, 0, &ru) < 0)
		if (errno != EINTR)
			fail("wait4");
	long long t1 = now();
	if (r == sizeof e) {
		errno = e;
		fail(argv[0]);
	}
	int status = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
	long long cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			(long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	printf("%lld %lld %ld %d\n", t1 - t0, cpu, ru.ru_maxrss, status);
	exit(0);
}

int main(int argc, char **argv)
{
	long long t = now();
	if (argc == 2 && strcmp(argv[1], "-hold") == 0)
		for (;;)
			pause(); /* keeps the inherited socket (fd 3) open until killed */
	if (argc > 2 && strcmp(argv[1], "-measure") == 0)
		measure(argv + 2);
	if (argc < 2) {
		fprintf(stderr, "usage: child SOCKET [group]\n");
		return 2;
	}

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		fail(argv[1]);
	}
	strcpy(sa.sun_path, argv[1]);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("connect");
	if (argc > 2 && strcmp(argv[2], "group") == 0) {
		pid_t pid = fork();
		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			/* The grandchild holds the socket as fd 3, open across exec. */
			if (dup2(fd, 3) < 0 || fcntl(3, F_SETFD, 0) < 0)
				_exit(2);
			char *hold[] = {argv[0], "-hold", NULL};
			execve(argv[0], hold, environ);
			_exit(2);
		}
	}
	const char *token = getenv("ZK_FLOCK_TOKEN");
	char msg[128];
	int n = snprintf(msg, sizeof msg, "S %d %d %s %lld\n", (int)getpid(), (int)getppid(),
			 token && *token ? token : "0", t);
	writeall(fd, msg, (size_t)n);
	char buf[64];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 1; /* the bench went away */
		if (memchr(buf, 'x', (size_t)r)) {
			n = snprintf(msg, sizeof msg, "X %lld\n", now());
			writeall(fd, msg, (size_t)n);
			return 0;
		}
	}
}
