// Package testzk starts throwaway real ZooKeeper servers for tests.
package testzk
