// Command demo shows zk-flock at work: it starts a throwaway ZooKeeper,
// runs three contenders for one lock at once, and shows them take it one at
// a time. `make demo` runs it; everything it starts is stopped at the end.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zk-flock/zk-flock/internal/testzk"
)

func main() {
	bin := flag.String("bin", "./zk-flock", "the zk-flock binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func demo(ctx context.Context, bin string) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	say("starting a throwaway ZooKeeper on 127.0.0.1 ...")
	cluster, err := testzk.Start(ctx, testzk.Options{})
	if err != nil {
		return err
	}
	defer func() {
		cluster.Stop()
		say("ZooKeeper stopped; nothing is left running.")
	}()
	dir, err := os.MkdirTemp("", "zk-flock-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "distributed-flock.json")
	cfg, _ := json.MarshalIndent(map[string]any{
		"host": cluster.Addrs(), "timeout": 5, "app_id": "demo",
		"logger": map[string]string{"path": filepath.Join(dir, "zkflock.log"), "level": "INFO"},
	}, "", "  ")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	say("ZooKeeper at %v; config %s:\n%s", cluster.Addrs(), cfgPath, cfg)

	const job = `echo "got the lock, token $ZK_FLOCK_TOKEN"; sleep 1.5; echo "done"`
	say("three hosts run at the same moment:\n  %s -c %s -w 30 -l 0 nightly-report -- sh -c '%s'", filepath.Base(bin), cfgPath, job)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 1; i <= 3; i++ {
		cmd := exec.CommandContext(ctx, bin, "-c", cfgPath, "-w", "30", "-l", "0", "nightly-report", "--", "sh", "-c", job)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			prefix(out, fmt.Sprintf("host-%d", i), start)
			if err := cmd.Wait(); err != nil {
				say("host-%d: zk-flock: %v", i, err)
			}
		}()
	}
	go showHolders(ctx, cluster.Addrs(), start)
	wg.Wait()
	say("all three ran, one at a time, in %.1fs.", time.Since(start).Seconds())
	return nil
}

// prefix copies r to stdout line by line, tagged with who and when.
func prefix(r io.Reader, who string, start time.Time) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Printf("  %5.2fs  %s | %s\n", time.Since(start).Seconds(), who, sc.Text())
	}
}

// showHolders prints who holds the lock, from the node's data, once.
func showHolders(ctx context.Context, addrs []string, start time.Time) {
	c, _, err := zk.Connect(addrs, 5*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		return
	}
	defer c.Close()
	time.Sleep(500 * time.Millisecond)
	data, stat, err := c.Get("/demo/nightly-report")
	if err != nil {
		return
	}
	fmt.Printf("  %5.2fs  (zkCli would show) /demo/nightly-report = %s, ephemeral owner 0x%x\n",
		time.Since(start).Seconds(), data, stat.EphemeralOwner)
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func say(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }
