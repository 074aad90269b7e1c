package main

import (
	"math"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// summary describes a sample: its size, median, 99th percentile (nearest
// rank: with 100 values or fewer it is the largest), mean and extremes.
type summary struct {
	N                           int
	Median, P99, Mean, Min, Max float64
}

// summarize returns xs's summary; xs is not modified.
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	return summary{
		N:      len(s),
		Median: quantile(s, 0.5),
		P99:    s[rank(len(s), 0.99)],
		Mean:   sum / float64(len(s)),
		Min:    s[0],
		Max:    s[len(s)-1],
	}
}

// quantile interpolates the q-quantile of sorted s (the median of an even
// count is the mean of the middle two).
func quantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// rank is the nearest-rank index of quantile q among n sorted values.
func rank(n int, q float64) int {
	return max(0, int(math.Ceil(q*float64(n)))-1)
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// monoNow reads CLOCK_MONOTONIC in nanoseconds: the clock the child helper
// stamps its reports with, so that the two can be subtracted.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return ts.Nano()
}

// nsToMs converts a CLOCK_MONOTONIC difference to milliseconds.
func nsToMs(ns int64) float64 { return float64(ns) / 1e6 }
