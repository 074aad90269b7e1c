package supervise

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

var (
	// ErrNotFound means that the command does not exist: no such file, or
	// no file of that name in any directory of PATH. A shell exits 127.
	ErrNotFound = errors.New("supervise: command not found")

	// ErrNotExecutable means that the command exists but cannot be
	// executed: no permission, a directory, not a valid executable (exec
	// format error), or a script whose interpreter is missing. A shell
	// exits 126.
	ErrNotExecutable = errors.New("supervise: command not executable")

	errBadStat = errors.New("supervise: cannot parse /proc/PID/stat")
)

// defaultPath is searched when the environment has no PATH: the value of
// confstr(_CS_PATH) in glibc, which is what execvp(3) and Python (the
// original zk-flock) fall back to.
const defaultPath = "/bin:/usr/bin"

// lookPath finds the executable that name stands for, the way execvp(3)
// does: a name with a slash is used as is (relative to dir, the child's
// working directory, when that is set); otherwise each directory of the PATH
// in env (the child's environment) is tried in order, an empty entry meaning
// the working directory. The result is absolute. Directories found on PATH
// are skipped; if a file of that name was found but none was executable, the
// error is ErrNotExecutable, else ErrNotFound.
func lookPath(name string, env []string, dir string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty command name", ErrNotFound)
	}
	if strings.Contains(name, "/") {
		p, err := checkExecutable(name, inDir(dir, name))
		if err != nil {
			return "", err
		}
		return p, nil
	}
	path, ok := getenv(env, "PATH")
	if !ok {
		path = defaultPath
	}
	var denied error
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		p, err := checkExecutable(name, inDir(dir, filepath.Join(d, name)))
		if err == nil {
			return p, nil
		}
		if denied == nil && errors.Is(err, ErrNotExecutable) && !errors.Is(err, syscall.EISDIR) {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", fmt.Errorf("%w: %q", ErrNotFound, name)
}

// inDir makes p relative to dir when p is relative and dir is set.
func inDir(dir, p string) string {
	if dir != "" && !filepath.IsAbs(p) {
		return filepath.Join(dir, p)
	}
	return p
}

// checkExecutable checks that p is a file this process may execute and
// returns it made absolute; name is what the user typed, for the error.
func checkExecutable(name, p string) (string, error) {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR):
		return "", fmt.Errorf("%w: %q", ErrNotFound, name)
	case err != nil:
		return "", fmt.Errorf("%w: %q: %w", ErrNotExecutable, name, unwrapPathError(err))
	case fi.IsDir():
		return "", fmt.Errorf("%w: %q: %w", ErrNotExecutable, name, syscall.EISDIR)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%w: %q: not a regular file", ErrNotExecutable, name)
	}
	// AT_EACCESS: check with the effective IDs, which execve uses. For root
	// this still requires one execute bit.
	if err := unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS); err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrNotExecutable, name, err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("supervise: %q: %w", name, err)
	}
	return abs, nil
}

// startError turns an error of syscall.ForkExec into one that says what
// failed. The execve errors that mean "this file cannot be run" become
// ErrNotExecutable, like a shell's exit status 126; ENOENT although the file
// exists means a missing script interpreter or ELF loader (also 126, as
// bash). Anything else (fork failure, EAGAIN, ENOMEM, E2BIG) is returned
// wrapped, without a sentinel.
func startError(name, path string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("supervise: start %q: %w", name, err)
	}
	switch errno {
	case syscall.ENOENT:
		if _, serr := os.Stat(path); serr != nil {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		return fmt.Errorf("%w: %q: %w (missing interpreter or loader)", ErrNotExecutable, name, errno)
	case syscall.EACCES, syscall.EPERM, syscall.ENOEXEC, syscall.EISDIR, syscall.ETXTBSY,
		syscall.ENOTDIR, syscall.ELOOP, syscall.ENAMETOOLONG, syscall.ELIBBAD:
		return fmt.Errorf("%w: %q: %w", ErrNotExecutable, name, errno)
	}
	return fmt.Errorf("supervise: start %q: %w", name, errno)
}

// unwrapPathError drops the *os.PathError around err: the message names
// the command already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// getenv returns the value of the last key=value entry of env for key (env
// is deduplicated by Start, so there is only one).
func getenv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// withEnv returns env with the entries of extra added, replacing those of
// the same keys; env itself is left as it is.
func withEnv(env, extra []string) []string {
	if len(extra) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(extra))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		replaced := false
		for _, x := range extra {
			if xk, _, _ := strings.Cut(x, "="); xk == k {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return append(out, dedupEnv(extra)...)
}

// dedupEnv drops every key=value entry whose key appears again later, as
// os/exec does: the last one wins, and the child sees the same value as
// lookPath.
func dedupEnv(env []string) []string {
	seen := make(map[string]bool, len(env))
	out := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		k, _, _ := strings.Cut(env[i], "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, env[i])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
