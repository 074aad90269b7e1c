// Package config reads zk-flock's JSON configuration file
// (/etc/distributed-flock.json by default) with the key names of the original
// Python zk-flock, and checks every value before anything connects to
// ZooKeeper.
//
// The package knows nothing of ZooKeeper clients, processes or flags: it turns
// bytes into a validated Config and says precisely which key is wrong when it
// cannot. Precedence (defaults, then this file, then flags) is applied by the
// caller: Parse starts from Default and overlays the file.
package config
