package chaos

import (
	"strings"
	"testing"
	"time"
)

const ms1 = int64(time.Millisecond)

// iv builds an interval on lock node lock: alive from start to death (ms),
// exact unless said otherwise.
func iv(id int, lock string, token int64, start, death int64) Interval {
	return Interval{ID: id, Lock: lock, Group: lock, Slots: 1, Token: token, Start: start * ms1, Death: death * ms1, Seen: start * ms1, Exact: true}
}

func TestCheck(t *testing.T) {
	none := func(*Interval) bool { return false }
	sem := func(id int, slot string, token, start, death int64) Interval {
		v := iv(id, "/c/s_"+slot, token, start, death)
		v.Group, v.Slots = "/c/s", 2
		return v
	}
	for _, tc := range []struct {
		name string
		ivs  []Interval
		want []string // kinds, in order
	}{
		{"empty", nil, nil},
		{"handoffs in order", []Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 101, 200), iv(3, "/c/a", 12, 250, 300)}, nil},
		{"overlap", []Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 99, 200)}, []string{"overlap"}},
		{"start at the very death is no overlap", []Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 100, 200)}, nil},
		{"overlap with a long earlier holder, not the previous", []Interval{
			iv(1, "/c/a", 10, 0, 500), iv(2, "/c/a", 11, 100, 150), iv(3, "/c/a", 12, 300, 400)},
			[]string{"overlap", "overlap"}},
		{"token not increasing", []Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 10, 150, 200)}, []string{"token"}},
		{"token decreasing", []Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 9, 150, 200)}, []string{"token"}},
		{"other locks are independent", []Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/b", 5, 50, 200)}, nil},
		{"alive at the end overlaps what follows", []Interval{iv(1, "/c/a", 10, 0, 0), iv(2, "/c/a", 11, 5000, 6000)}, []string{"overlap"}},
		{"semaphore: two at once is fine", []Interval{sem(1, "0", 10, 0, 100), sem(2, "1", 11, 50, 150)}, nil},
		{"semaphore: three at once", []Interval{sem(1, "0", 10, 0, 100), sem(2, "1", 11, 50, 150), sem(3, "1", 12, 60, 70)},
			[]string{"overlap", "semaphore"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := Check(tc.ivs, 10000*ms1, none)
			var got []string
			for _, v := range vs {
				got = append(got, v.Kind)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v: %v", got, tc.want, vs)
			}
		})
	}
}

func TestCheckProofOfLife(t *testing.T) {
	// The death measurement says 100, but the earlier holder stamped a
	// message at 120, after the later one started at 110.
	a, b := iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 110, 200)
	a.Seen = 120 * ms1
	vs := Check([]Interval{a, b}, 1000*ms1, func(*Interval) bool { return false })
	if len(vs) != 1 || vs[0].Kind != "overlap" || vs[0].Overlap != 10*time.Millisecond {
		t.Fatalf("got %v, want one 10ms overlap", vs)
	}
}

func TestCheckEndOfFileTolerance(t *testing.T) {
	none := func(*Interval) bool { return false }
	a, b := iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 90, 200)
	a.Exact = false
	vs := Check([]Interval{a, b}, 1000*ms1, none)
	if len(vs) != 1 || !vs[0].Unconfirmed {
		t.Fatalf("a 10ms overlap measured by end of file: got %v, want one unconfirmed", vs)
	}
	a.Seen = 95 * ms1 // proof it ran after b started
	if vs := Check([]Interval{a, b}, 1000*ms1, none); len(vs) != 1 || vs[0].Unconfirmed {
		t.Fatalf("proven overlap: got %v, want one confirmed", vs)
	}
	a.Seen = 0
	b.Start = 0 // 100ms: beyond any scheduling delay
	b.Token = 11
	a.Start = -1 * ms1
	if vs := Check([]Interval{a, b}, 1000*ms1, none); len(vs) != 1 || vs[0].Unconfirmed {
		t.Fatalf("100ms overlap: got %v, want one confirmed", vs)
	}
	a.Exact, a.Seen, a.Start, b.Start = true, 0, 0, 90*ms1
	if vs := Check([]Interval{a, b}, 1000*ms1, none); len(vs) != 1 || vs[0].Unconfirmed {
		t.Fatalf("exact death: got %v, want one confirmed", vs)
	}
}

func TestCheckExpected(t *testing.T) {
	vs := Check([]Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 50, 200)}, 1000*ms1,
		func(v *Interval) bool { return v.ID == 1 })
	if len(vs) != 1 || !vs[0].Expected {
		t.Fatalf("got %v, want one expected overlap", vs)
	}
}

func TestMargins(t *testing.T) {
	m := Margins([]Interval{iv(1, "/c/a", 10, 0, 100), iv(2, "/c/a", 11, 130, 200), iv(3, "/c/b", 1, 0, 10), iv(4, "/c/a", 12, 190, 300)})
	want := map[int]time.Duration{2: 30 * time.Millisecond, 4: -10 * time.Millisecond}
	if len(m) != len(want) || m[2] != want[2] || m[4] != want[4] {
		t.Fatalf("got %v, want %v", m, want)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != -1 {
		t.Errorf("empty: %v, want -1", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one: %v, want 7", got)
	}
}

func TestResourceRejectsStaleToken(t *testing.T) {
	r := NewResource()
	for _, tc := range []struct {
		lock  string
		token int64
		ok    bool
	}{
		{"/c/a", 5, true},
		{"/c/a", 5, true}, // the same holder again
		{"/c/a", 7, true}, // a newer holder
		{"/c/a", 5, false},
		{"/c/b", 1, true}, // each lock on its own
		{"/c/a", 8, true},
	} {
		if got := r.Write(0, tc.lock, tc.token, 0); got != tc.ok {
			t.Errorf("write %s token %d: accepted %t, want %t", tc.lock, tc.token, got, tc.ok)
		}
	}
}

func TestGroupOf(t *testing.T) {
	for _, tc := range []struct {
		lock string
		slot int
		want string
	}{
		{"/chaos/a", -1, "/chaos/a"},
		{"/chaos/my_lock", -1, "/chaos/my_lock"},
		{"/chaos/s_1", 1, "/chaos/s"},
		{"/chaos/my_sem_10", 10, "/chaos/my_sem"},
	} {
		if got := groupOf(tc.lock, tc.slot); got != tc.want {
			t.Errorf("groupOf(%q, %d) = %q, want %q", tc.lock, tc.slot, got, tc.want)
		}
	}
}
