package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/testcerts"
)

// fakeReportKey stands in for report.ParsePrivateKey (report imports
// config); cmd/icugate's tests run the real one.
func fakeReportKey(data []byte) error {
	if string(data) != "report key\n" {
		return errors.New("not a report key")
	}
	return nil
}

// TestCheckFiles covers each way a named file can be wrong. A row writes
// its files in the site's directory (setup) and appends its fields to
// minimalSite from line 6; want holds "line: message" with $DIR for the
// directory, and a final "*" making the message a prefix.
func TestCheckFiles(t *testing.T) {
	t.Parallel()
	rows := []struct {
		name  string
		setup func(t *testing.T, dir string)
		site  string
		want  []string
	}{
		{name: "no files named", site: "", want: nil},
		{
			name: "good everything, secrets 0600",
			setup: func(t *testing.T, dir string) {
				pair(t, dir)
				writeFile(t, filepath.Join(dir, "mqtt-user"), "icugate\n") // not a secret: 0644 is fine
				secret(t, dir, "mqtt-pass", "pw\n")
				secret(t, dir, "influx-token", "tok\n")
				secret(t, dir, "report.key", "report key\n")
				secret(t, dir, "api-token", "0123456789abcdef0123\n")
			},
			site: `mqtt:
  broker: ssl://127.0.0.1:8883
  username_file: mqtt-user
  password_file: mqtt-pass
  tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client.key}
influxdb:
  url: https://127.0.0.1:8086
  bucket: icu/autogen
  token_file: influx-token
  tls: {ca_file: ca.pem}
report: {key_file: report.key}
http: {token_file: api-token}
`,
			want: nil,
		},
		{
			name: "missing",
			site: "http: {token_file: api-token}\n",
			want: []string{"6: http.token_file: no file $DIR/api-token; create it or correct the path (relative paths are relative to the site file)"},
		},
		{
			name:  "directory",
			setup: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "keys"), 0o700, true) },
			site:  "report:\n  interval: 1m\n  key_file: keys\n",
			want:  []string{"8: report.key_file: $DIR/keys is a directory, not a regular file; name the file itself"},
		},
		{
			name:  "secret readable by others",
			setup: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "report.key"), "report key\n") },
			site:  "report: {key_file: report.key}\n",
			want:  []string{"6: report.key_file: $DIR/report.key has mode 0644, which lets group or others read a secret; run chmod 600 $DIR/report.key"},
		},
		{
			name:  "bad report key",
			setup: func(t *testing.T, dir string) { secret(t, dir, "report.key", "hello\n") },
			site:  "report: {key_file: report.key}\n",
			want:  []string{"6: report.key_file: $DIR/report.key: not a report key"},
		},
		{
			name: "bad report key readable by others: both said",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "report.key"), "hello\n")
			},
			site: "report: {key_file: report.key}\n",
			want: []string{
				"6: report.key_file: $DIR/report.key has mode 0644*",
				"6: report.key_file: $DIR/report.key: not a report key",
			},
		},
		{
			name: "bad certificates",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "ca.pem"), "hello\n")
				writeFile(t, filepath.Join(dir, "client.pem"), "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n")
				secret(t, dir, "client.key", "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n")
			},
			site: "mqtt:\n  broker: ssl://h:8883\n  tls:\n    ca_file: ca.pem\n    cert_file: client.pem\n    key_file: client.key\n",
			want: []string{
				"9: mqtt.tls.ca_file: $DIR/ca.pem: no PEM certificate found; want a file of -----BEGIN CERTIFICATE----- blocks",
				"10: mqtt.tls.cert_file: $DIR/client.pem: certificate 1: *",
				"11: mqtt.tls.key_file: $DIR/client.key: the PRIVATE KEY block is not a PKCS#8, PKCS#1 or EC private key",
			},
		},
		{
			name: "TLS key readable by others, not matching the certificate",
			setup: func(t *testing.T, dir string) {
				pair(t, dir)
				chmod(t, filepath.Join(dir, "ca.key"), 0o640, false)
			},
			site: "influxdb:\n  url: https://h:8086\n  bucket: icu/autogen\n  tls: {cert_file: client.pem, key_file: ca.key}\n",
			want: []string{
				"9: influxdb.tls.key_file: $DIR/ca.key has mode 0640, which lets group or others read a secret; run chmod 600 $DIR/ca.key",
				"9: influxdb.tls.key_file: $DIR/ca.key does not go with cert_file $DIR/client.pem (*",
			},
		},
		{
			name:  "certificate without key",
			setup: pair,
			site:  "mqtt:\n  broker: ssl://h:8883\n  tls: {cert_file: client.pem}\n",
			want:  []string{"8: mqtt.tls.cert_file: a client certificate needs its key: set key_file too, or neither"},
		},
		{
			name:  "key without certificate",
			setup: pair,
			site:  "mqtt:\n  broker: ssl://h:8883\n  tls: {key_file: client.key}\n",
			want:  []string{"8: mqtt.tls.key_file: a client key needs its certificate: set cert_file too, or neither"},
		},
		{
			name: "several, in line order",
			site: "http: {token_file: /nonexistent/api-token}\nmqtt:\n  broker: tcp://h:1883\n  password_file: pw\n",
			want: []string{
				"6: http.token_file: no file /nonexistent/api-token*",
				"9: mqtt.password_file: no file $DIR/pw*",
			},
		},
		{
			name: "API token too short, alert receiver secret world-readable",
			setup: func(t *testing.T, dir string) {
				secret(t, dir, "api-token", "biomed short\n")
				writeFile(t, filepath.Join(dir, "hook.key"), "k\n")
			},
			site: "http: {token_file: api-token}\nalerts:\n  receivers:\n    - {name: hook, type: webhook, url: \"https://x.example/h\", secret_file: hook.key}\n",
			want: []string{
				"6: http.token_file: $DIR/api-token: line 1: the token is shorter than 16 characters; use a long random one (openssl rand -hex 32)",
				"9: alerts.receivers[0].secret_file: *",
			},
		},
		{
			name: "https certificate valid",
			setup: func(t *testing.T, dir string) {
				serverCert(t, dir, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			},
			site: "http:\n  tls: {cert_file: tls/server.crt, key_file: tls/server.key}\n",
			want: nil,
		},
		{
			name: "https certificate expired",
			setup: func(t *testing.T, dir string) {
				serverCert(t, dir, time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour))
			},
			site: "http:\n  tls: {cert_file: tls/server.crt, key_file: tls/server.key}\n",
			want: []string{"7: http.tls.cert_file: $DIR/tls/server.crt: the certificate expired on *"},
		},
		{
			name: "https certificate not yet valid",
			setup: func(t *testing.T, dir string) {
				serverCert(t, dir, time.Now().Add(24*time.Hour), time.Now().Add(72*time.Hour))
			},
			site: "http:\n  tls: {cert_file: tls/server.crt, key_file: tls/server.key}\n",
			want: []string{"7: http.tls.cert_file: $DIR/tls/server.crt: the certificate is not valid before *"},
		},
		{
			name: "https key of another certificate",
			setup: func(t *testing.T, dir string) {
				serverCert(t, dir, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
				f, err := testcerts.Write(dir, testcerts.Options{Prefix: "other-"})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(f.Key, filepath.Join(dir, "tls/server.key")); err != nil {
					t.Fatal(err)
				}
			},
			site: "http:\n  tls: {cert_file: tls/server.crt, key_file: tls/server.key}\n",
			want: []string{"7: http.tls.key_file: $DIR/tls/server.key does not go with cert_file $DIR/tls/server.crt*"},
		},
		{
			name: "https files not PEM",
			setup: func(t *testing.T, dir string) {
				chmod(t, filepath.Join(dir, "tls"), 0o700, true)
				writeFile(t, filepath.Join(dir, "tls/server.crt"), "not a certificate\n")
				secret(t, dir, "tls/server.key", "not a key\n")
			},
			site: "http:\n  tls: {cert_file: tls/server.crt, key_file: tls/server.key}\n",
			want: []string{
				"7: http.tls.cert_file: $DIR/tls/server.crt: no PEM certificate found*",
				"7: http.tls.key_file: $DIR/tls/server.key: no PEM private key found*",
			},
		},
		{
			name:  "api tokens with an unknown role",
			setup: func(t *testing.T, dir string) { secret(t, dir, "api-token", "biomed superuser 0123456789abcdef0123\n") },
			site:  "http: {token_file: api-token}\n",
			want:  []string{`6: http.token_file: $DIR/api-token: line 1: unknown role "superuser"; want viewer, engineer, admin`},
		},
		// An unreadable file ("permission denied; make it readable by the
		// user icugate runs as") is not tested: tests run as root here, and
		// root reads any file whatever its mode.
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			path := writeSite(t, minimalSite+row.site, nil)
			dir := filepath.Dir(path)
			if row.setup != nil {
				row.setup(t, dir)
			}
			site, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := CheckFiles(site, fakeReportKey)
			if len(got) != len(row.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(row.want), problemLines(got))
			}
			for i, p := range got {
				if p.File != path {
					t.Errorf("problem %d in file %s, want %s", i, p.File, path)
				}
				line := strings.ReplaceAll(row.want[i], "$DIR", dir)
				have := strings.TrimPrefix(p.String(), path+":")
				if pre, ok := strings.CutSuffix(line, "*"); ok {
					if !strings.HasPrefix(have, pre) {
						t.Errorf("problem %d:\n got %s\nwant %s", i, have, line)
					}
				} else if have != line {
					t.Errorf("problem %d:\n got %s\nwant %s", i, have, line)
				}
			}
		})
	}
}

// TestCheckFilesWithoutSiteFile checks that a site built in code (no file
// to take lines from) still has its files checked, at line 0.
func TestCheckFilesWithoutSiteFile(t *testing.T) {
	t.Parallel()
	site := &Site{Report: Report{KeyFile: filepath.Join(t.TempDir(), "none.key")}}
	got := CheckFiles(site, nil)
	if len(got) != 1 || got[0].Line != 0 || !strings.HasPrefix(got[0].Message, "report.key_file: no file ") {
		t.Fatalf("got %v", got)
	}
}

// secret writes a file of mode 0600 in dir.
func secret(t *testing.T, dir, name, text string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, name), text)
	chmod(t, filepath.Join(dir, name), 0o600, false)
}

// pair writes ca.pem/ca.key and client.pem/client.key (mode 0600) in dir.
func pair(t *testing.T, dir string) {
	t.Helper()
	writeKeyPair(t, dir, "ca")
	writeKeyPair(t, dir, "client")
	chmod(t, filepath.Join(dir, "client.key"), 0o600, false)
}

// chmod sets path's mode, making it a directory first when mkdir is set.
func chmod(t *testing.T, path string, mode os.FileMode, mkdir bool) {
	t.Helper()
	if mkdir {
		if err := os.Mkdir(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func problemLines(list []Problem) string {
	var b strings.Builder
	for _, p := range list {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// TestCheckFilesUnreadable checks the advice for a file the user cannot
// read. Root reads any file whatever its mode, so as root it is skipped.
func TestCheckFilesUnreadable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root, which can read a file of mode 0000")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "report.key")
	writeFile(t, key, "report key\n")
	chmod(t, key, 0o000, false)
	got := CheckFiles(&Site{Report: Report{KeyFile: key}}, fakeReportKey)
	want := "report.key_file: cannot read " + key + ": permission denied; make it readable by the user icugate runs as"
	if len(got) != 1 || got[0].Message != want {
		t.Fatalf("got %v, want %q", got, want)
	}
}

// serverCert writes tls/server.crt and tls/server.key in dir, valid from
// notBefore to notAfter.
func serverCert(t *testing.T, dir string, notBefore, notAfter time.Time) {
	t.Helper()
	tlsDir := filepath.Join(dir, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := testcerts.Write(tlsDir, testcerts.Options{NotBefore: notBefore, NotAfter: notAfter}); err != nil {
		t.Fatal(err)
	}
}
