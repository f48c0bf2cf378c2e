//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// simGroup is the simulator, in one child process or in several shards
// when the addresses would not fit one process' open-file limit (each
// address takes a listener and a connection per client connection).
type simGroup struct {
	shards []*lineChild
}

// simShards is how many simulator processes serve addresses when each
// is reached by connsPerAddr connections, within the open-file limit.
func simShards(addresses, connsPerAddr int, fdLimit uint64) int {
	const reserve = 1000 // the runtime, logs, the broker's or the gateway's odd files
	per := (int(fdLimit) - reserve) / (1 + max(connsPerAddr, 1))
	if per < 1 {
		return 1
	}
	return max(1, (addresses+per-1)/per)
}

// startSims starts n simulator shards for the site and waits until each
// serves its addresses.
func (e *env) startSims(ctx context.Context, dir, site string, n int) (*simGroup, error) {
	g := &simGroup{}
	for k := range n {
		name := "simulator"
		if n > 1 {
			name = fmt.Sprintf("simulator %d/%d", k+1, n)
		}
		log := filepath.Join(dir, fmt.Sprintf("simulator-%d.log", k))
		c, err := e.cs.startLineChild(ctx, name, log, 3*time.Minute, "-serve", site, "-shard", strconv.Itoa(k)+"/"+strconv.Itoa(n))
		if err != nil {
			g.close()
			return nil, err
		}
		g.shards = append(g.shards, c)
	}
	return g, nil
}

// start opens a measuring window in every shard.
func (g *simGroup) start(ctx context.Context) error {
	for _, c := range g.shards {
		if _, err := c.ask(ctx, "start", 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// stop closes the window and merges the shards' reports.
func (g *simGroup) stop(ctx context.Context) (*simReport, error) {
	r := &simReport{}
	for _, c := range g.shards {
		line, err := c.ask(ctx, "stop", 30*time.Second)
		if err != nil {
			return nil, err
		}
		var s simReport
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			return nil, fmt.Errorf("simulator report %q: %w", line, err)
		}
		r.merge(s)
	}
	return r, nil
}

// close stops every shard.
func (g *simGroup) close() {
	for _, c := range g.shards {
		c.finish(5 * time.Second)
	}
}
