// Command zk-flock runs a command on this host only while it holds a
// cluster-wide lock in ZooKeeper.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
