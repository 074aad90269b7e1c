package main

import "testing"

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want summary
	}{
		{nil, summary{}},
		{[]float64{3}, summary{N: 1, Median: 3, P99: 3, Mean: 3, Min: 3, Max: 3}},
		{[]float64{4, 1, 3, 2}, summary{N: 4, Median: 2.5, P99: 4, Mean: 2.5, Min: 1, Max: 4}},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	// 200 values 1..200: p99 by nearest rank is the 198th.
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(200 - i)
	}
	if got := summarize(xs); got.P99 != 198 || got.Median != 100.5 {
		t.Errorf("summarize(1..200) = %+v, want p99 198 and median 100.5", got)
	}
}
