package chaos

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/zk-flock/zk-flock/internal/chaos/wire"
)

// Hub is the harness's end of the workers' socket: it records what the
// workers report in a History and times the end of each worker's tree.
type Hub struct {
	ln    *net.UnixListener
	path  string
	hist  *History
	slots func(group string) int

	mu    sync.Mutex
	conns map[*hubConn]struct{}
	wg    sync.WaitGroup
}

type hubConn struct {
	c  *net.UnixConn
	mu sync.Mutex
}

func (c *hubConn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = c.c.Write(append(b, '\n'))
	return err
}

// NewHub listens on a new Unix socket in dir. slots tells the size of a
// lock group's semaphore (1 for a plain lock).
func NewHub(dir string, hist *History, slots func(group string) int) (*Hub, error) {
	path := filepath.Join(dir, "hub.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	h := &Hub{ln: ln, path: path, hist: hist, slots: slots, conns: make(map[*hubConn]struct{})}
	h.wg.Add(1)
	go h.accept()
	return h, nil
}

// Path is the socket's path, for $ZK_FLOCK_CHAOS_SOCK.
func (h *Hub) Path() string { return h.path }

// Close stops accepting, closes every connection and waits for the hub's
// goroutines.
func (h *Hub) Close() {
	h.ln.Close()
	h.mu.Lock()
	for c := range h.conns {
		c.c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
	os.Remove(h.path)
}

func (h *Hub) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.AcceptUnix()
		if err != nil {
			return
		}
		hc := &hubConn{c: c}
		h.mu.Lock()
		h.conns[hc] = struct{}{}
		h.mu.Unlock()
		h.wg.Add(1)
		go h.serve(hc)
	}
}

// serve follows one worker: Start, the plan, its reports, and the end of
// file that says its whole tree is dead.
func (h *Hub) serve(hc *hubConn) {
	defer h.wg.Done()
	defer func() {
		h.mu.Lock()
		delete(h.conns, hc)
		h.mu.Unlock()
		hc.c.Close()
	}()
	r := bufio.NewReader(hc.c)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return
	}
	var m wire.Msg
	if err := json.Unmarshal(line, &m); err != nil || m.T != wire.TStart {
		return
	}
	iv, plan := h.hist.started(m, h.slots(groupOf(m.Lock, m.Slot)), hc)
	_ = hc.send(plan)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			at := wire.Now()
			if errors.Is(err, net.ErrClosed) {
				return // we closed it at shutdown: the tree is not known dead
			}
			h.hist.eof(iv, at)
			return
		}
		if json.Unmarshal(line, &m) == nil {
			h.hist.event(iv, m)
		}
	}
}

// TellExit asks an interval's worker to exit by itself.
func (h *Hub) TellExit(iv *Interval) error {
	if iv.hub == nil {
		return errors.New("no connection")
	}
	return iv.hub.send(wire.Command{Cmd: "exit"})
}
