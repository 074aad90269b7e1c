// Package testzk starts throwaway real ZooKeeper servers for tests: one
// standalone server or an ensemble, each server on free loopback ports with
// its own temporary data directory, and with the process control that
// fault-injection tests need (Stop, Kill, Pause, Resume, Start).
//
// It runs Debian's zookeeper package (java -cp ConfDir:Jar
// QuorumPeerMain zoo.cfg). Without it, Start returns an error wrapping
// ErrNotInstalled that says to run make deps; tests must fail on that
// error, never skip. Main and New do so:
//
//	var zk *testzk.Cluster
//
//	func TestMain(m *testing.M) {
//		os.Exit(testzk.Main(m, testzk.Options{}, func(c *testzk.Cluster) { zk = c }))
//	}
//
//	func TestFailover(t *testing.T) {
//		c := testzk.New(t, testzk.Options{Servers: 3})
//		leader, err := c.Leader()
//		...
//	}
//
// A server's JVM writes its output and ZooKeeper's log to
// Server.LogPath, never to the test's output; start errors quote the log's
// tail. The JVM gets SIGKILL when the test process dies, however it dies,
// and runs in its own process group, so ^C reaches only the test process.
//
// FourLetter and Mntr talk ZooKeeper's four-letter words; ZkCli runs
// ZooKeeper's own command-line client, an independent check on what a test
// wrote.
package testzk
