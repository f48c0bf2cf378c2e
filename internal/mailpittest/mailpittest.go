// Package mailpittest runs a real SMTP server, mailpit, for tests: on free
// 127.0.0.1 ports, with its database in the test's temporary directory,
// stopped by t.Cleanup. It can offer STARTTLS (or TLS from the first byte)
// with a certificate signed by a CA made for the test, require STARTTLS,
// and require a login; what it received is read back through mailpit's
// HTTP API (Messages, WaitMessages).
//
// mailpit is looked up in $ICUGATE_CACHE/bin (default
// ~/.cache/icugate/bin, where scripts/test.sh builds the pinned version),
// then in PATH. When it is missing the test is skipped, or fails when
// CI=true: CI must never pass by skipping its integration tests.
package mailpittest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/serverproc"
)

// Config chooses how the SMTP listener behaves. The zero value is a plain
// SMTP server that takes mail from anyone.
type Config struct {
	// STARTTLS offers STARTTLS with a certificate for 127.0.0.1 and
	// localhost, signed by a CA made for the test (Server.CAFile).
	STARTTLS bool
	// RequireSTARTTLS refuses clients that did not start TLS; it implies
	// STARTTLS.
	RequireSTARTTLS bool
	// ImplicitTLS makes the SMTP port speak TLS from the first byte
	// (smtps://), with the same kind of certificate.
	ImplicitTLS bool
	// Users are the accepted SMTP logins, name → password. With any,
	// mail is taken only after AUTH, and mailpit offers AUTH only over
	// TLS.
	Users map[string]string
}

// Server is one mailpit process.
type Server struct {
	cfg      Config
	bin      string
	dir      string
	caFile   string
	smtpPort int
	httpPort int
	api      *http.Client // its own transport, so Stop can close its idle connections
	proc     serverproc.Process
}

// ErrNotInstalled is what Require skips (or fails) with when mailpit is
// missing.
var ErrNotInstalled = errors.New("mailpit not found in $ICUGATE_CACHE/bin, ~/.cache/icugate/bin or PATH: build it with scripts/install-gotool.sh mailpit github.com/axllent/mailpit v1.33.1")

var binary = serverproc.Binary{Name: "mailpit", NotInstalled: ErrNotInstalled}

// Binary returns the mailpit executable, or "" when it is not installed.
func Binary() string { return binary.Path() }

// Require returns mailpit's path, or ends the test: skipped, or failed
// when CI=true, with how to install it.
func Require(t testing.TB) string {
	t.Helper()
	return binary.Require(t)
}

// Start starts mailpit for the test and stops it at cleanup; when the test
// failed, mailpit's log is printed.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.RequireSTARTTLS {
		cfg.STARTTLS = true
	}
	if cfg.STARTTLS && cfg.ImplicitTLS {
		t.Fatal("mailpittest: STARTTLS and ImplicitTLS exclude each other")
	}
	s := &Server{cfg: cfg, bin: Require(t), dir: t.TempDir(),
		api: &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}}
	t.Cleanup(s.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mailpit log:\n%s", s.Logs())
		}
	})
	if err := s.prepare(); err != nil {
		t.Fatalf("mailpittest: %v", err)
	}
	var err error
	// A free port can be taken between the check and mailpit's bind.
	for attempt := 0; attempt < 3; attempt++ {
		var ports []int
		if ports, err = serverproc.FreePorts(2); err != nil {
			break
		}
		s.smtpPort, s.httpPort = ports[0], ports[1]
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("mailpittest: %v", err)
	return nil
}

// prepare writes the certificates and the password file.
func (s *Server) prepare() error {
	if s.cfg.STARTTLS || s.cfg.ImplicitTLS {
		if err := writeCerts(s.dir); err != nil {
			return fmt.Errorf("certificates: %w", err)
		}
		s.caFile = filepath.Join(s.dir, "ca.crt")
	}
	if len(s.cfg.Users) > 0 {
		names := make([]string, 0, len(s.cfg.Users))
		for n := range s.cfg.Users {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, n := range names {
			// htpasswd format; mailpit accepts plain-text passwords.
			fmt.Fprintf(&b, "%s:%s\n", n, s.cfg.Users[n])
		}
		if err := os.WriteFile(filepath.Join(s.dir, "smtp-auth"), []byte(b.String()), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) args() []string {
	args := []string{
		"--database", filepath.Join(s.dir, "mailpit.db"),
		"--listen", s.httpAddr(),
		"--smtp", s.SMTPAddr(),
		"--disable-version-check",
		"--smtp-disable-rdns",
	}
	if s.cfg.STARTTLS || s.cfg.ImplicitTLS {
		args = append(args, "--smtp-tls-cert", filepath.Join(s.dir, "server.crt"), "--smtp-tls-key", filepath.Join(s.dir, "server.key"))
	}
	if s.cfg.RequireSTARTTLS {
		args = append(args, "--smtp-require-starttls")
	}
	if s.cfg.ImplicitTLS {
		args = append(args, "--smtp-require-tls")
	}
	if len(s.cfg.Users) > 0 {
		args = append(args, "--smtp-auth-file", filepath.Join(s.dir, "smtp-auth"))
	}
	return args
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir
	if err := s.proc.Start(context.Background(), cmd, 10*time.Second, s.ready); err != nil {
		return fmt.Errorf("mailpit on smtp %s and http %s: %w: %s", s.SMTPAddr(), s.httpAddr(), err, s.proc.Logs())
	}
	return nil
}

// ready: the API answers /readyz and the SMTP port accepts connections.
func (s *Server) ready() bool {
	resp, err := s.api.Get(s.HTTPURL() + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.DialTimeout("tcp", s.SMTPAddr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Stop stops mailpit (SIGTERM, then SIGKILL after 5 s) and waits for it.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.api.CloseIdleConnections()
	s.proc.Stop(5 * time.Second)
}

// SMTPAddr is the SMTP listener's host:port.
func (s *Server) SMTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.smtpPort))
}

// SMTPURL is the server as an e-mail receiver's url: smtps://127.0.0.1:PORT
// with ImplicitTLS, else smtp://127.0.0.1:PORT.
func (s *Server) SMTPURL() string {
	if s.cfg.ImplicitTLS {
		return "smtps://" + s.SMTPAddr()
	}
	return "smtp://" + s.SMTPAddr()
}

// HTTPURL is the base URL of mailpit's web UI and API.
func (s *Server) HTTPURL() string { return "http://" + s.httpAddr() }

func (s *Server) httpAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.httpPort))
}

// CAFile is the PEM file of the CA that signed the server's certificate
// ("" without TLS): what a client's tls.ca_file names.
func (s *Server) CAFile() string { return s.caFile }

// Logs returns what mailpit logged so far.
func (s *Server) Logs() string { return s.proc.Logs() }
