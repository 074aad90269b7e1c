// Package zklock implements a cancellable, self-fencing ZooKeeper lock and semaphore.
package zklock
