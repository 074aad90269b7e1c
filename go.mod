module github.com/zk-flock/zk-flock

go 1.26.8

require (
	github.com/go-zookeeper/zk v1.0.4 // indirect
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
