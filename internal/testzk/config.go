package testzk

import (
	"fmt"
	"strings"
	"time"
)

// Defaults for Options.
const (
	// DefaultTickTime is small so that tests of session expiry take a
	// second or two rather than a minute: ZooKeeper counts session
	// timeouts (2 to 20 ticks by default), initLimit and syncLimit in ticks.
	DefaultTickTime = 200 * time.Millisecond
	// DefaultInitLimit gives a follower 4 s (at the default tick) to sync
	// with a new leader: plenty on loopback, with room for a busy CI machine.
	DefaultInitLimit = 20
	// DefaultSyncLimit drops a follower that lags 2 s (at the default tick)
	// behind the leader. Lower detects a paused leader sooner, but makes
	// ensembles flap when three JVMs share two cores with go test -race.
	DefaultSyncLimit = 10
	// DefaultStartTimeout bounds starting a whole cluster. A server is up in
	// about half a second here; the rest is for a loaded CI machine.
	DefaultStartTimeout = 60 * time.Second
)

// defaultJVMFlags make a small JVM that starts fast on a 2-core machine.
// Most of the JVM's startup is class loading, so flags change little;
// TieredStopAtLevel=1 and SerialGC mostly keep three JVMs from fighting over
// two cores. -UsePerfData stops the JVM leaving /tmp/hsperfdata_* files
// behind when it is killed with SIGKILL.
var defaultJVMFlags = []string{
	"-Xmx256m",
	"-XX:+UseSerialGC",
	"-XX:TieredStopAtLevel=1",
	"-Xshare:auto",
	"-XX:-UsePerfData",
	// The admin server listens on 8080 by default: servers would collide.
	"-Dzookeeper.admin.enableServer=false",
	// Log through ConfDir's log4j.properties to the console, which is
	// redirected to the server's log file.
	"-Dzookeeper.root.logger=INFO,CONSOLE",
	"-Dzookeeper.jmx.log4j.disable=true",
}

// Options configure the servers Start starts. The zero value starts one
// standalone server with the defaults above.
type Options struct {
	// Servers is the number of servers: 0 or 1 for a standalone server,
	// 3 for a typical ensemble.
	Servers int
	// TickTime is ZooKeeper's time unit, whole milliseconds; zero means
	// DefaultTickTime.
	TickTime time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the session timeouts
	// clients may negotiate; zero leaves ZooKeeper's 2 and 20 ticks.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// InitLimit and SyncLimit are in ticks; zero means DefaultInitLimit and
	// DefaultSyncLimit.
	InitLimit int
	SyncLimit int
	// ExtraPorts is how many more free ports to reserve per server, found
	// in Ports.Extra.
	ExtraPorts int
	// ExtraConfig returns more zoo.cfg lines for server id (1-based). They
	// come last, so they override the generated ones, e.g.
	// "secureClientPort=<p.Extra[0]>" or
	// "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider".
	ExtraConfig func(id int, p Ports) []string
	// JVMFlags are added after the default JVM flags, e.g.
	// "-Dzookeeper.DigestAuthenticationProvider.superDigest=...".
	JVMFlags []string
	// StartTimeout bounds Start; zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// KeepDirs keeps the temporary directories (data and logs) after
	// Cluster.Stop, for a look after a failure.
	KeepDirs bool
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Servers <= 0 {
		o.Servers = 1
	}
	if o.TickTime <= 0 {
		o.TickTime = DefaultTickTime
	}
	if o.InitLimit <= 0 {
		o.InitLimit = DefaultInitLimit
	}
	if o.SyncLimit <= 0 {
		o.SyncLimit = DefaultSyncLimit
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	return o
}

// zooCfg renders the zoo.cfg of server id (1-based) of an ensemble whose
// ports are all[i] for server i+1.
func (o Options) zooCfg(id int, dataDir string, all []Ports) string {
	p := all[id-1]
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
	}
	line("tickTime=%d", o.TickTime.Milliseconds())
	line("initLimit=%d", o.InitLimit)
	line("syncLimit=%d", o.SyncLimit)
	if o.MinSessionTimeout > 0 {
		line("minSessionTimeout=%d", o.MinSessionTimeout.Milliseconds())
	}
	if o.MaxSessionTimeout > 0 {
		line("maxSessionTimeout=%d", o.MaxSessionTimeout.Milliseconds())
	}
	line("dataDir=%s", dataDir)
	line("clientPort=%d", p.Client)
	line("clientPortAddress=127.0.0.1")
	line("4lw.commands.whitelist=*")
	// Throwaway data: no fsync per transaction. A killed JVM still loses
	// nothing, the page cache survives it.
	line("forceSync=no")
	if len(all) > 1 {
		for i, q := range all {
			line("server.%d=127.0.0.1:%d:%d", i+1, q.Peer, q.Election)
		}
	}
	if o.ExtraConfig != nil {
		for _, l := range o.ExtraConfig(id, p) {
			line("%s", l)
		}
	}
	return b.String()
}
