package main

import (
	"slices"
	"strings"
	"testing"
)

// TestChildEnviron: the variables zk-flock sets for the command are never
// inherited (from an outer zk-flock, say): an inherited copy would come
// first, where getenv finds it, and ZK_FLOCK_SLOT would stay set for a
// lock without slots. Everything else passes through.
func TestChildEnviron(t *testing.T) {
	t.Setenv(envToken, "1")
	t.Setenv(envLock, "/outer/lock")
	t.Setenv(envSlot, "bogus")
	t.Setenv(envDaemon, "1")
	t.Setenv("ZK_FLOCK_TOKENISH", "kept")
	env := childEnviron()
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains([]string{envToken, envLock, envSlot, envDaemon}, name) {
			t.Errorf("inherited %s reaches the command", kv)
		}
	}
	if !slices.Contains(env, "ZK_FLOCK_TOKENISH=kept") {
		t.Errorf("an unrelated variable was dropped: %q", env)
	}
}
