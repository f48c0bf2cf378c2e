package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/gateway"
	"github.com/icugate/icugate/store"
)

func loadSite(t *testing.T, httpAddr string) *config.Site {
	t.Helper()
	site, err := config.Load(backupSite(t, httpAddr))
	must(t, err)
	return site
}

// TestBackupAndRestoreWithRunningGateway runs a real gateway on a data
// directory and, while API calls change its store: icugate backup copies
// state.db through the gateway (with the site's admin token; a viewer
// token is refused), the copy is consistent and holds the changes made
// before it, and icugate restore is refused (the gateway holds the lock)
// with nothing changed. Once the gateway stopped, the restore goes through.
func TestBackupAndRestoreWithRunningGateway(t *testing.T) {
	httpAddr := freePort(t)
	sitePath := backupSite(t, httpAddr)
	site, err := config.Load(sitePath)
	must(t, err)
	data := filepath.Join(filepath.Dir(sitePath), "data")
	gw, err := gateway.New(site, gateway.Options{SitePath: sitePath, DataDir: data, Logger: slog.New(slog.DiscardHandler), Version: version})
	must(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop")
		}
	}()
	base := "http://" + httpAddr
	eventually(t, 20*time.Second, "gateway serves", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	put := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/devices/vent-1/maintenance", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT maintenance: %s", resp.Status)
		}
	}
	put(`{"on":true,"reason":"annual PM","ticket":"CMMS-1"}`)

	// Changes go on while the backup is taken.
	var wg sync.WaitGroup
	wg.Add(1)
	busy, quiet := context.WithCancel(context.Background())
	go func() {
		defer wg.Done()
		for i := 0; busy.Err() == nil; i++ {
			put(fmt.Sprintf(`{"on":true,"reason":"annual PM","ticket":"CMMS-%d"}`, i))
		}
	}()
	out := filepath.Join(t.TempDir(), "backup.tar.gz")
	code, stdout, stderr := run(runBackup, "-c", sitePath, "-o", out)
	quiet()
	wg.Wait()
	if code != 0 || !strings.Contains(stdout, "by the running gateway") {
		t.Fatalf("backup of a running gateway: exit %d\n%s%s", code, stdout, stderr)
	}
	entries := readArchive(t, out)
	var m manifest
	must(t, json.Unmarshal(entries[manifestName], &m))
	if m.Via != "gateway" || m.StateFormat != store.Format {
		t.Errorf("manifest = %+v", m)
	}
	copyPath := filepath.Join(t.TempDir(), "state.db")
	must(t, os.WriteFile(copyPath, entries[stateName], 0o600))
	cp, err := store.Open(copyPath)
	must(t, err)
	flags, err := cp.Maintenance()
	must(t, err)
	orders, err := cp.WorkOrders("vent-1", 5)
	must(t, err)
	cp.Close()
	if f := flags["vent-1"]; !f.On || f.Reason != "annual PM" || len(orders) != 1 || orders[0].End != nil || orders[0].Ticket != f.Ticket {
		t.Errorf("copy: flag %+v, work orders %+v; want vent-1 in maintenance with its one open order, agreeing", f, orders)
	}

	viewer := filepath.Join(t.TempDir(), "viewer-token")
	must(t, os.WriteFile(viewer, []byte(testViewerToken+"\n"), 0o600))
	code, _, stderr = run(runBackup, "-c", sitePath, "-o", filepath.Join(t.TempDir(), "v.tar.gz"), "-token-file", viewer)
	if code != 1 || !strings.Contains(stderr, "403") || !strings.Contains(stderr, "admin") {
		t.Errorf("backup with a viewer token: exit %d, %s; want refused", code, stderr)
	}

	state := filepath.Join(data, "state.db")
	before, _ := os.ReadFile(state)
	code, _, stderr = run(runRestore, "-data", data, "-i", out)
	if code != 1 || !strings.Contains(stderr, "in use by a running icugate") || !strings.Contains(stderr, "stop it first") {
		t.Errorf("restore while running: exit %d, %s; want refused", code, stderr)
	}
	if _, err := os.Stat(state + store.BeforeRestore); !os.IsNotExist(err) {
		t.Errorf("refused restore left %s", state+store.BeforeRestore)
	}
	left, _ := filepath.Glob(filepath.Join(data, ".state.db.restore-*"))
	if after, _ := os.ReadFile(state); len(left) > 0 || len(before) == 0 {
		t.Errorf("refused restore left %q (state.db %d bytes before, %d after)", left, len(before), len(after))
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("gateway stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not stop")
	}
	done <- nil // for the deferred stop
	if code, stdout, stderr := run(runRestore, "-data", data, "-i", out); code != 0 {
		t.Errorf("restore once stopped: exit %d\n%s%s", code, stdout, stderr)
	}
}

// rewrite makes a new archive from a backup's entries after edit changed
// them (the manifest is written as it was, unless edit changed it).
func rewrite(t *testing.T, from, to string, edit func(entries map[string][]byte)) {
	t.Helper()
	entries := readArchive(t, from)
	var m manifest
	must(t, json.Unmarshal(entries[manifestName], &m))
	edit(entries)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := []string{manifestName}
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	for _, n := range names {
		b := entries[n]
		must(t, tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	must(t, os.WriteFile(to, buf.Bytes(), 0o600))
}

// TestRestoreRefusesBadBackups: a damaged or tampered archive, or one of a
// newer format, is refused and nothing in the data or config directory
// changes.
func TestRestoreRefusesBadBackups(t *testing.T) {
	t.Parallel()
	site := backupSite(t, "127.0.0.1:9")
	data := filepath.Join(filepath.Dir(site), "data")
	state := filepath.Join(data, "state.db")
	fillStore(t, state, "icu-01")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tar.gz")
	if code, stdout, stderr := run(runBackup, "-c", site, "-o", good); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	raw, err := os.ReadFile(good)
	must(t, err)

	newer := filepath.Join(dir, "newer.tar.gz")
	rewrite(t, good, newer, func(e map[string][]byte) {
		// The state.db of a newer icugate: format 2, its manifest says so.
		p := filepath.Join(t.TempDir(), "state.db")
		must(t, os.WriteFile(p, e[stateName], 0o600))
		db, err := bolt.Open(p, 0o600, nil)
		must(t, err)
		must(t, db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint64(nil, store.Format+1))
		}))
		must(t, db.Close())
		e[stateName], err = os.ReadFile(p)
		must(t, err)
		var m manifest
		must(t, json.Unmarshal(e[manifestName], &m))
		m.StateFormat, m.Version = store.Format+1, "v9.0.0"
		sum := sha256.Sum256(e[stateName])
		m.Files[0].Size, m.Files[0].SHA256 = int64(len(e[stateName])), hex.EncodeToString(sum[:])
		e[manifestName], err = json.Marshal(m)
		must(t, err)
	})
	cases := []struct {
		name string
		make func(path string)
		want string
	}{
		{"gzip damaged", func(p string) {
			b := bytes.Clone(raw)
			b[len(b)/2] ^= 0x55
			must(t, os.WriteFile(p, b, 0o600))
		}, "damaged"},
		{"cut short", func(p string) { must(t, os.WriteFile(p, raw[:len(raw)-40], 0o600)) }, "damaged archive"},
		{"config file changed", func(p string) {
			rewrite(t, good, p, func(e map[string][]byte) { e["config/site.yaml"] = append(e["config/site.yaml"], '#') })
		}, "config/site.yaml does not match its checksum"},
		{"state.db changed", func(p string) {
			rewrite(t, good, p, func(e map[string][]byte) { e[stateName][5000] ^= 1 })
		}, "state.db does not match its checksum"},
		{"not a backup", func(p string) { must(t, os.WriteFile(p, []byte("hello"), 0o600)) }, "not a backup of icugate"},
		{"newer format", func(p string) {
			b, _ := os.ReadFile(newer)
			must(t, os.WriteFile(p, b, 0o600))
		}, "format 2, newer than this icugate knows (up to 1): restore it with icugate v9.0.0 or newer"},
	}
	before, _ := os.ReadFile(state)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "b.tar.gz")
			c.make(in)
			conf := filepath.Join(t.TempDir(), "etc")
			code, _, stderr := run(runRestore, "-data", data, "-i", in, "-config-dir", conf)
			if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "nothing was changed") {
				t.Errorf("exit %d, %s; want 1 with %q", code, stderr, c.want)
			}
			if _, err := os.Stat(conf); !os.IsNotExist(err) {
				t.Errorf("config directory made: %v", err)
			}
		})
	}
	if after, _ := os.ReadFile(state); !bytes.Equal(before, after) {
		t.Error("a refused restore changed state.db")
	}
	left, _ := filepath.Glob(filepath.Join(data, ".state.db.restore-*"))
	if _, err := os.Stat(state + store.BeforeRestore); len(left) > 0 || !os.IsNotExist(err) {
		t.Errorf("refused restores left %q, %v", left, err)
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"manifest.json": true, "state.db": true, "config/site.yaml": true, "config/profiles/a.yaml": true,
		"config-outside/etc/icugate/ca.pem": true, "config/../etc/passwd": false, "config/": false,
		"/etc/passwd": false, "config/a/../../x": false, "other/file": false, "config/./a": false, "config-outside/..": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestRestoreConfigKeepsReplaced: a config file that differs is kept as
// FILE.before-restore, and the restored one gets its owner and group (the
// gateway's user must still read it after a restore run as root).
func TestRestoreConfigKeepsReplaced(t *testing.T) {
	t.Parallel()
	site := backupSite(t, "127.0.0.1:9")
	fillStore(t, filepath.Join(filepath.Dir(site), "data", "state.db"), "icu-01")
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if code, stdout, stderr := run(runBackup, "-c", site, "-o", out); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, stderr)
	}
	conf := t.TempDir()
	edited := filepath.Join(conf, "site.yaml")
	must(t, os.WriteFile(edited, []byte("# edited after the backup\n"), 0o640))
	root := os.Geteuid() == 0
	if root {
		must(t, os.Chown(edited, 4242, 4343))
	}
	if code, stdout, stderr := run(runRestore, "-data", filepath.Join(t.TempDir(), "data"), "-i", out, "-config-dir", conf); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	orig, _ := os.ReadFile(site)
	if got, _ := os.ReadFile(edited); !bytes.Equal(got, orig) {
		t.Errorf("site.yaml not restored: %q", got)
	}
	if kept, _ := os.ReadFile(edited + store.BeforeRestore); string(kept) != "# edited after the backup\n" {
		t.Errorf("replaced site.yaml kept as %q", kept)
	}
	if fi, err := os.Stat(edited); root && (err != nil || fi.Sys().(*syscall.Stat_t).Uid != 4242 || fi.Sys().(*syscall.Stat_t).Gid != 4343) {
		t.Errorf("restored site.yaml: %v, %+v; want owned by 4242:4343 as the file it replaced", err, fi.Sys())
	}
}
