package testzk

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseMode(t *testing.T) {
	tests := []struct {
		name, srvr, want string
		err              error
	}{
		{"leader", "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: leader\nNode count: 5\n", ModeLeader, nil},
		{"standalone", "Zxid: 0x0\nMode: standalone\n", ModeStandalone, nil},
		{"not serving", "This ZooKeeper instance is not currently serving requests\n", "", ErrNotServing},
		{"garbage", "imok", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMode(tt.srvr)
			if got != tt.want {
				t.Errorf("parseMode = %q; want %q", got, tt.want)
			}
			switch {
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("err = %v; want %v", err, tt.err)
			case tt.want == "" && err == nil:
				t.Error("no error for an answer without a mode")
			case tt.want != "" && err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb\nc\n", 3, "a\nb\nc"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		if got := tail([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("tail(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCleanZkCli(t *testing.T) {
	const server = "127.0.0.1:2181"
	tests := []struct{ name, in, want string }{
		{
			"get",
			"SLF4J: Failed to load class \"org.slf4j.impl.StaticLoggerBinder\".\nConnecting to 127.0.0.1:2181\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\nbar\n",
			"bar\n",
		},
		{
			"empty data keeps its line",
			"Connecting to 127.0.0.1:2181\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n\n",
			"\n",
		},
		{
			"no connection",
			"Connecting to 127.0.0.1:2181\nKeeperErrorCode = ConnectionLoss for /foo\n",
			"KeeperErrorCode = ConnectionLoss for /foo\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanZkCli(tt.in, server); got != tt.want {
				t.Errorf("cleanZkCli = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestZooCfg(t *testing.T) {
	all := []Ports{
		{Client: 1001, Peer: 1002, Election: 1003, Extra: []int{1004}},
		{Client: 2001, Peer: 2002, Election: 2003, Extra: []int{2004}},
		{Client: 3001, Peer: 3002, Election: 3003, Extra: []int{3004}},
	}
	o := Options{
		Servers:           3,
		TickTime:          300 * time.Millisecond,
		MaxSessionTimeout: 9 * time.Second,
		ExtraConfig: func(id int, p Ports) []string {
			return []string{"secureClientPort=" + strconv.Itoa(p.Extra[0])}
		},
	}.withDefaults()
	cfg := o.zooCfg(2, "/d", all)
	for _, want := range []string{
		"tickTime=300\n", "initLimit=20\n", "syncLimit=10\n", "maxSessionTimeout=9000\n",
		"dataDir=/d\n", "clientPort=2001\n", "clientPortAddress=127.0.0.1\n",
		"4lw.commands.whitelist=*\n",
		"server.1=127.0.0.1:1002:1003\n", "server.3=127.0.0.1:3002:3003\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if !strings.HasSuffix(cfg, "secureClientPort=2004\n") {
		t.Errorf("extra lines do not come last:\n%s", cfg)
	}
	if strings.Contains(cfg, "minSessionTimeout") {
		t.Errorf("minSessionTimeout set though not asked for:\n%s", cfg)
	}
	if standalone := (Options{}).withDefaults().zooCfg(1, "/d", all[:1]); strings.Contains(standalone, "server.") {
		t.Errorf("standalone zoo.cfg lists servers:\n%s", standalone)
	}
}
