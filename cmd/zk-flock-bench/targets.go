package main

import "fmt"

// target is one of the targets, judged on this run's figures.
type target struct {
	Name     string
	Goal     string
	Measured string  // the figure, with what it was computed from
	Value    float64 // compared with Limit: Value ≤ Limit passes
	Limit    float64
	Known    bool // false when this run did not measure it
}

// verdict says PASS, or MISS and by how much.
func (t target) verdict() string {
	switch {
	case !t.Known:
		return "not measured"
	case t.Value <= t.Limit:
		return fmt.Sprintf("PASS (%.0f%% of the limit)", 100*t.Value/t.Limit)
	default:
		return fmt.Sprintf("MISS by %.0f%% (%.3g against ≤ %.3g)", 100*(t.Value/t.Limit-1), t.Value, t.Limit)
	}
}

// Target waiter counts.
const (
	queuedTarget = 40   // mean handoff with this many queued ≤ 1.5× one waiter's
	herdTarget   = 1000 // requests per handoff independent of waiters
)

// targets judges the run against the targets.
func targets(r *results) []target {
	var ts []target
	zkf, etcd := r.cost("zk-flock"), r.cost("etcdctl lock")

	t := target{Name: "whole process: wall", Goal: "zk-flock -l 0 L true ≤ 0.40× the wall time of etcdctl lock L true (medians)", Limit: 0.40}
	if zkf != nil && etcd != nil {
		a, b := summarize(zkf.Wall).Median, summarize(etcd.Wall).Median
		t.Value, t.Known = a/b, true
		t.Measured = fmt.Sprintf("%.2f× (%.1f ms / %.1f ms)", t.Value, a, b)
	}
	ts = append(ts, t)

	t = target{Name: "whole process: peak RSS", Goal: "zk-flock -l 0 L true peak RSS ≤ 12 MiB (median)", Limit: 12}
	if zkf != nil {
		s := summarize(zkf.MaxRSS)
		t.Value, t.Known = s.Median, true
		t.Measured = fmt.Sprintf("%.1f MiB (p99 %.1f MiB)", s.Median, s.P99)
	}
	ts = append(ts, t)

	one := r.herd(1)
	t = target{Name: "handoff, one waiter", Goal: "median ≤ 4× the raw delete→watch→create floor (median)", Limit: 4}
	if one != nil && len(one.Rounds) > 0 && r.floors != nil {
		a, b := summarize(one.handoffs()).Median, summarize(r.floors.DWC).Median
		t.Value, t.Known = a/b, true
		t.Measured = fmt.Sprintf("%.2f× (%.2f ms / %.2f ms)", t.Value, a, b)
		if c := summarize(r.floors.DWCIdle).Median; c > 0 {
			t.Measured += fmt.Sprintf("; %.2f× the same exchange after %v idle (%.2f ms)", a/c, idleGap, c)
		}
	}
	ts = append(ts, t)

	q := r.herd(queuedTarget)
	t = target{Name: fmt.Sprintf("%d queued waiters", queuedTarget), Goal: fmt.Sprintf("mean time per handoff with %d queued ≤ 1.5× the single-waiter handoff (mean)", queuedTarget), Limit: 1.5}
	if q != nil && len(q.Rounds) > 0 && one != nil && len(one.Rounds) > 0 {
		a, b := summarize(q.handoffs()).Mean, summarize(one.handoffs()).Mean
		t.Value, t.Known = a/b, true
		t.Measured = fmt.Sprintf("%.2f× (%.2f ms / %.2f ms)", t.Value, a, b)
	}
	ts = append(ts, t)

	// Requests per handoff are compared with the smallest waiter count
	// above one: with one waiter no queued waiter moves up to the head,
	// which every handoff with more waiters includes.
	h := r.herd(herdTarget)
	var ref *herdResult
	for _, x := range r.herds {
		if x.W > 1 && x.W < herdTarget && len(x.Rounds) > 0 && (ref == nil || x.W < ref.W) {
			ref = x
		}
	}
	t = target{Name: fmt.Sprintf("%d waiters: requests", herdTarget), Limit: 1.5,
		Goal: fmt.Sprintf("ZooKeeper requests per handoff independent of the number of waiters: with %d, ≤ 1.5× those with the fewest waiters above one (net of background)", herdTarget)}
	if h != nil && len(h.Rounds) > 0 && ref != nil {
		_, a := h.requests()
		_, b := ref.requests()
		t.Value, t.Known = a/b, true
		t.Measured = fmt.Sprintf("%.2f× (%.1f with %d waiters / %.1f with %d)", t.Value, a, h.W, b, ref.W)
	}
	ts = append(ts, t)

	t = target{Name: "reaction", Goal: "lock node deleted → command's process group dead within 50 ms (p99)", Limit: 50}
	if len(r.reaction) > 0 {
		s := summarize(r.reaction)
		t.Value, t.Known = s.P99, true
		t.Measured = fmt.Sprintf("p99 %.2f ms (median %.2f ms)", s.P99, s.Median)
	}
	ts = append(ts, t)
	return ts
}

// cost returns the whole-process sample of the named tool, or nil.
func (r *results) cost(name string) *costResult {
	for _, c := range r.costs {
		if c.Tool.Name == name {
			return c
		}
	}
	return nil
}

// herd returns the results for w waiters, or nil.
func (r *results) herd(w int) *herdResult {
	for _, h := range r.herds {
		if h.W == w {
			return h
		}
	}
	return nil
}
