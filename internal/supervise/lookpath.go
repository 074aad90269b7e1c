package supervise

import "os"

// LookPath finds the executable name stands for in this process's PATH,
// as Start would for a child with this process's environment and working
// directory. Errors match ErrNotFound or ErrNotExecutable.
func LookPath(name string) (string, error) {
	return lookPath(name, os.Environ(), "")
}
