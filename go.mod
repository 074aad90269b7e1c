module github.com/zk-flock/zk-flock

go 1.26.8

require (
	github.com/go-zookeeper/zk v1.0.4
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
	github.com/spf13/pflag v1.1.0
	golang.org/x/sys v0.50.0
)
