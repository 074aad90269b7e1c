package testzk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Paths of Debian's zookeeper package (installed by make deps).
const (
	// ConfDir is put first on the class path, as Debian's own scripts do,
	// so ZooKeeper finds its log4j.properties.
	ConfDir = "/etc/zookeeper/conf"
	// Jar is the ZooKeeper server and client jar; its manifest Class-Path
	// pulls in every dependency except a logging backend.
	Jar = "/usr/share/java/zookeeper.jar"
	// ZkCliScript is the command-line client shipped by the package; it is
	// not on PATH.
	ZkCliScript = "/usr/share/zookeeper/bin/zkCli.sh"
)

// logJars bind SLF4J to log4j 1.2. The jar's manifest names slf4j-api but no
// backend, so without them the server logs nothing at all ("Defaulting to
// no-operation (NOP) logger"). Both come with libzookeeper-java's
// dependencies; a missing one only costs the server log.
var logJars = []string{
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}

// ErrNotInstalled is returned, wrapped with what is missing, when java or
// ZooKeeper cannot be found.
var ErrNotInstalled = errors.New("testzk: ZooKeeper not installed")

// CheckInstalled reports whether java and the ZooKeeper jar are present.
// Its error wraps ErrNotInstalled and tells the user to run make deps.
func CheckInstalled() error {
	if _, err := Java(); err != nil {
		return err
	}
	if _, err := os.Stat(Jar); err != nil {
		return fmt.Errorf("%w: %s missing; run make deps", ErrNotInstalled, Jar)
	}
	return nil
}

// Java returns the java binary: $JAVA_HOME/bin/java if set, else java from
// PATH. Its error wraps ErrNotInstalled.
func Java() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("%w: java not found on PATH; run make deps", ErrNotInstalled)
	}
	return p, nil
}

// nettyJars complete the Netty that TLS needs (NettyServerCnxnFactory):
// the jar's manifest names netty-handler and netty-transport but not the
// codec and resolver jars they depend on, so without these a TLS
// connection fails with NoClassDefFoundError ByteToMessageDecoder. Both
// come with libnetty-java, a dependency of the package.
var nettyJars = []string{
	"/usr/share/java/netty-codec.jar",
	"/usr/share/java/netty-resolver.jar",
}

// Classpath returns the class path the servers run with: ConfDir, Jar and
// the log4j binding and Netty jars that exist.
func Classpath() string {
	cp := []string{ConfDir, Jar}
	for _, j := range append(logJars[:len(logJars):len(logJars)], nettyJars...) {
		if _, err := os.Stat(j); err == nil {
			cp = append(cp, j)
		}
	}
	return strings.Join(cp, string(os.PathListSeparator))
}

// ZkCliPath returns ZkCliScript if it exists, else zkCli.sh or zkCli from
// PATH. Its error wraps ErrNotInstalled.
func ZkCliPath() (string, error) {
	if _, err := os.Stat(ZkCliScript); err == nil {
		return ZkCliScript, nil
	}
	for _, name := range []string{"zkCli.sh", "zkCli"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s missing; run make deps", ErrNotInstalled, ZkCliScript)
}
