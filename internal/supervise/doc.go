// Package supervise runs a child command in its own process group and kills its whole tree on demand.
package supervise
