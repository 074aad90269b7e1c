package supervise

import (
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkStartTrue measures what a command that ends at once costs, from
// Start to TreeDone: `zk-flock -l 0 L true`. "subreaper" is the way
// zk-flock runs; the benchmark makes this process a subreaper for its own
// duration only.
func BenchmarkStartTrue(b *testing.B) {
	path, err := LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B) {
		for b.Loop() {
			c, err := Start(Spec{Path: path})
			if err != nil {
				b.Fatal(err)
			}
			<-c.TreeDone()
		}
	}
	b.Run("plain", func(b *testing.B) {
		if isSubreaper() {
			b.Skip("this process is a child subreaper")
		}
		run(b)
	})
	b.Run("subreaper", func(b *testing.B) {
		if !isSubreaper() {
			if err := EnableSubreaper(); err != nil {
				b.Skip(err)
			}
			defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
		}
		run(b)
	})
}
