package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/store"
)

const backupUsage = `usage: icugate backup -c SITE.yaml [-data DIR] -o BACKUP.tar.gz [-with-secrets]
                      [-url URL] [-token-file FILE] [-cacert FILE]

Writes a backup of a gateway while it runs, or while it is stopped: a
consistent copy of state.db (maintenance flags and work orders, run-time
moves, usage, report sequence numbers, the audit trail, alert queues),
the site file and the files it names (device files, the profiles it uses,
certificates), and manifest.json (when, which icugate, which hospital, the
formats, and the SHA-256 of every file), as a .tar.gz.

While a gateway runs on -data it holds state.db's lock, and the copy comes
from the gateway itself (GET /api/v1/backup on its http.listen, admin
role): the token is read from -token-file, else from the site's
http.token_file (its first admin token). Secrets (passwords, tokens, the
report signing key, TLS keys) are left out unless -with-secrets; such a
backup must be kept like the secrets themselves. The outbox is not backed
up: it is data already on its way to InfluxDB. See docs/upgrades.md.
`

// backupLayout is the layout of the archive (manifest and names) this
// code writes; restore refuses a newer one.
const backupLayout = 1

// manifest is manifest.json, the first entry of a backup.
type manifest struct {
	Layout      int       `json:"icugate_backup"`
	Created     time.Time `json:"created"`
	Version     string    `json:"icugate_version"`
	Hospital    string    `json:"hospital"`
	StateFormat int       `json:"state_format"`
	// Via is "gateway" (copied by the running gateway) or "file".
	Via         string         `json:"via"`
	DataDir     string         `json:"data_dir"`
	Site        string         `json:"site"`
	WithSecrets bool           `json:"with_secrets"`
	Files       []manifestFile `json:"files"`
	// Missing are files the site names that could not be read; LeftOut
	// the secrets not included (no -with-secrets).
	Missing []string `json:"missing,omitempty"`
	LeftOut []string `json:"left_out,omitempty"`
}

// manifestFile is one file of the backup besides the manifest.
type manifestFile struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Mode   string `json:"mode"` // permissions, octal: "0640"
	Secret bool   `json:"secret,omitempty"`
}

// perm is the file's permissions from the manifest; 0600 when unreadable.
func (f manifestFile) perm() os.FileMode {
	n, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil {
		return 0o600
	}
	return os.FileMode(n).Perm()
}

// Names in the archive: the state, then the site's files relative to the
// site file's directory, and files elsewhere under their absolute path.
const (
	manifestName  = "manifest.json"
	stateName     = "state.db"
	configPrefix  = "config/"
	outsidePrefix = "config-outside/"
)

// maxConfigFile bounds one config file read into a backup (and out of
// one): the site loader reads at most 4 MiB.
const maxConfigFile = 16 << 20

func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sitePath := fs.String("c", "site.yaml", "site config `file`")
	dataDir := fs.String("data", "", "data `directory` holding state.db (default: the outbox dir's parent, as for run)")
	out := fs.String("o", "", "backup `file` to write (.tar.gz)")
	withSecrets := fs.Bool("with-secrets", false, "include the secrets the site names (passwords, tokens, signing and TLS keys)")
	var api apiClientFlags
	api.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, backupUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *out == "" {
		fmt.Fprintln(stderr, "icugate backup: -o BACKUP.tar.gz is required, and nothing else after the flags")
		return 2
	}
	site, err := config.Load(*sitePath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintf(stderr, "icugate backup: %s has problems; nothing written (check it with: icugate check -c %s)\n", *sitePath, *sitePath)
		return 1
	}
	if *dataDir == "" {
		*dataDir = filepath.Dir(site.Outbox.Dir)
	}
	m, err := writeBackup(site, *sitePath, *dataDir, *out, *withSecrets, api)
	if err != nil {
		fmt.Fprintf(stderr, "icugate backup: %v; nothing written\n", err)
		return 1
	}
	for _, p := range m.Missing {
		fmt.Fprintf(stderr, "warning: %s is named by the site but could not be read; it is not in the backup\n", p)
	}
	fmt.Fprintf(stdout, "wrote %s: state.db (format %d, copied %s) and %d config file(s)", *out, m.StateFormat,
		map[string]string{"gateway": "by the running gateway", "file": "from the stopped data directory"}[m.Via], len(m.Files)-1)
	if len(m.LeftOut) > 0 {
		fmt.Fprintf(stdout, "; %d secret(s) left out (-with-secrets includes them)", len(m.LeftOut))
	}
	fmt.Fprintln(stdout)
	return 0
}

// writeBackup writes the backup file out, atomically: a temporary file in
// out's directory, renamed once complete and on disk.
func writeBackup(site *config.Site, sitePath, dataDir, out string, withSecrets bool, api apiClientFlags) (*manifest, error) {
	dir := filepath.Dir(out)
	db, err := os.CreateTemp(dir, ".icugate-backup-*.db")
	if err != nil {
		return nil, err
	}
	defer os.Remove(db.Name())
	defer db.Close()
	m := &manifest{Layout: backupLayout, Created: time.Now().UTC().Truncate(time.Second), Version: version,
		Hospital: site.Hospital.ID, DataDir: dataDir, Site: sitePath, WithSecrets: withSecrets}
	if m.Via, err = copyState(site, filepath.Join(dataDir, "state.db"), db, api); err != nil {
		return nil, err
	}
	if err := db.Sync(); err != nil {
		return nil, err
	}
	if m.StateFormat, err = store.Verify(db.Name()); err != nil {
		return nil, fmt.Errorf("the copy of state.db does not check out: %w", err)
	}
	stateFile, err := hashFile(db.Name())
	if err != nil {
		return nil, err
	}
	stateFile.Name, stateFile.Mode = stateName, "0600"
	m.Files = append(m.Files, stateFile)

	contents := map[string][]byte{}
	for _, f := range siteFiles(site, sitePath) {
		if f.secret && !withSecrets {
			m.LeftOut = append(m.LeftOut, f.path)
			continue
		}
		b, mode, err := readConfigFile(f.path)
		if err != nil {
			if f.path == sitePath {
				return nil, err
			}
			m.Missing = append(m.Missing, f.path)
			continue
		}
		sum := sha256.Sum256(b)
		name := archiveName(filepath.Dir(sitePath), f.path)
		m.Files = append(m.Files, manifestFile{Name: name, Source: f.path, Size: int64(len(b)),
			SHA256: hex.EncodeToString(sum[:]), Mode: fmt.Sprintf("%04o", mode.Perm()), Secret: f.secret})
		contents[name] = b
	}

	tmp, err := os.CreateTemp(dir, ".icugate-backup-*.tar.gz")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := writeArchive(tmp, m, db, contents); err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Chmod(0o600); err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return m, os.Rename(tmp.Name(), out)
}

// copyState copies state.db into w: itself when no gateway holds it,
// else through the gateway's API. It says which.
func copyState(site *config.Site, path string, w io.Writer, api apiClientFlags) (string, error) {
	_, err := store.Snapshot(path, w)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no state.db in %s: is -data right?", filepath.Dir(path))
	}
	if !errors.Is(err, store.ErrInUse) {
		return "file", err
	}
	if err := fetchState(site, api, w); err != nil {
		return "", fmt.Errorf("%s is held by a running gateway, and copying it through the gateway failed: %w", path, err)
	}
	return "gateway", nil
}

// writeArchive writes the manifest, state.db (from db) and the config
// files as a gzip-compressed tar.
func writeArchive(w io.Writer, m *manifest, db *os.File, contents map[string][]byte) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	put := func(name string, mode os.FileMode, size int64, r io.Reader) error {
		hdr := &tar.Header{Name: name, Mode: int64(mode), Size: size, ModTime: m.Created, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if err := put(manifestName, 0o600, int64(len(mb)), strings.NewReader(string(mb))); err != nil {
		return err
	}
	if _, err := db.Seek(0, io.SeekStart); err != nil {
		return err
	}
	for _, f := range m.Files {
		r := io.Reader(db)
		if f.Name != stateName {
			r = strings.NewReader(string(contents[f.Name]))
		}
		if err := put(f.Name, f.perm(), f.Size, r); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// siteFile is one file a site names.
type siteFile struct {
	path   string
	secret bool
}

// siteFiles lists the site file and every file it names, each once: its
// device files, the profiles it uses, and the credential, certificate and
// key files (secret as config.CheckFiles treats them).
func siteFiles(site *config.Site, sitePath string) []siteFile {
	var out []siteFile
	seen := map[string]bool{}
	add := func(p string, secret bool) {
		if p == "" || seen[p] {
			return
		}
		seen[p] = true
		out = append(out, siteFile{p, secret})
	}
	tls := func(t *config.TLS) {
		if t != nil {
			add(t.CAFile, false)
			add(t.CertFile, false)
			add(t.KeyFile, true)
		}
	}
	add(sitePath, false)
	for _, f := range site.DeviceFiles {
		add(f.Path, false)
	}
	names := make([]string, 0, len(site.Profiles))
	for name := range site.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		add(filepath.Join(site.ProfilesDir, name+".yaml"), false)
	}
	if m := site.MQTT; m != nil {
		add(m.UsernameFile, false)
		add(m.PasswordFile, true)
		tls(m.TLS)
	}
	if db := site.InfluxDB; db != nil {
		add(db.TokenFile, true)
		tls(db.TLS)
	}
	add(site.Report.KeyFile, true)
	add(site.HTTP.TokenFile, true)
	if t := site.HTTP.TLS; t != nil {
		add(t.CertFile, false)
		add(t.KeyFile, true)
	}
	if a := site.Alerts; a != nil {
		for _, r := range a.Receivers {
			add(r.UsernameFile, false)
			add(r.PasswordFile, true)
			add(r.SecretFile, true)
			tls(r.TLS)
		}
	}
	return out
}

// archiveName is where a config file goes in the archive: under config/
// relative to the site file's directory, else under config-outside/ by
// its absolute path.
func archiveName(siteDir, path string) string {
	absDir, err1 := filepath.Abs(siteDir)
	abs, err2 := filepath.Abs(path)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absDir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return configPrefix + filepath.ToSlash(rel)
		}
	}
	return outsidePrefix + strings.TrimPrefix(filepath.ToSlash(abs), "/")
}

// readConfigFile reads a regular file of at most maxConfigFile bytes.
func readConfigFile(path string) ([]byte, os.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err == nil && len(b) > maxConfigFile {
		err = fmt.Errorf("%s is larger than %d MiB: not a config file", path, maxConfigFile>>20)
	}
	return b, fi.Mode(), err
}

// hashFile returns the size and SHA-256 of a file.
func hashFile(path string) (manifestFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return manifestFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return manifestFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}
