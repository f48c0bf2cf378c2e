package mailpittest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/smtp"
	"os"
	"strings"
	"testing"
	"time"
)

// TestInstallHint: a test that lacks mailpit is told how to build it.
func TestInstallHint(t *testing.T) {
	if !strings.Contains(ErrNotInstalled.Error(), "install-gotool.sh mailpit") {
		t.Errorf("ErrNotInstalled does not say how to install: %v", ErrNotInstalled)
	}
}

const testMail = "From: Sender <sender@example.org>\r\n" +
	"To: nurse@example.org\r\n" +
	"Message-ID: <m1@example.org>\r\n" +
	"Subject: =?UTF-8?b?5ZG85ZC45py6?= offline\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"vent-01 =E5=91=BC=E5=90=B8=E6=9C=BA\r\n"

// TestPlainMessageReadBack: a mail sent without TLS or login comes back
// through Messages with its subject and body decoded, addresses and raw
// headers.
func TestPlainMessageReadBack(t *testing.T) {
	t.Parallel()
	s := Start(t, Config{})
	if !strings.HasPrefix(s.SMTPURL(), "smtp://127.0.0.1:") || s.CAFile() != "" {
		t.Errorf("SMTPURL %q, CAFile %q; want smtp:// on loopback and no CA", s.SMTPURL(), s.CAFile())
	}
	if err := smtp.SendMail(s.SMTPAddr(), nil, "sender@example.org", []string{"nurse@example.org"}, []byte(testMail)); err != nil {
		t.Fatal(err)
	}
	msgs := s.WaitMessages(t, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "呼吸机 offline" || m.From != "sender@example.org" || len(m.To) != 1 || m.To[0] != "nurse@example.org" ||
		m.MessageID != "m1@example.org" || strings.TrimSpace(m.Text) != "vent-01 呼吸机" {
		t.Errorf("read back %+v", m)
	}
	if got := m.Headers["Content-Transfer-Encoding"]; len(got) != 1 || got[0] != "quoted-printable" {
		t.Errorf("Content-Transfer-Encoding header %q", got)
	}
}

// TestSTARTTLSAndLogin: with STARTTLS required and a login, a client that
// does not start TLS is refused, a wrong password is refused, and a client
// that trusts CAFile and logs in delivers.
func TestSTARTTLSAndLogin(t *testing.T) {
	t.Parallel()
	s := Start(t, Config{RequireSTARTTLS: true, Users: map[string]string{"gateway": "pw-1"}})
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(s.CAFile())
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CAFile %q: %v", s.CAFile(), err)
	}
	send := func(startTLS bool, password string) error {
		c, err := smtp.Dial(s.SMTPAddr())
		if err != nil {
			return err
		}
		defer c.Close()
		if startTLS {
			if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
				return err
			}
			if err := c.Auth(smtp.PlainAuth("", "gateway", password, "127.0.0.1")); err != nil {
				return err
			}
		}
		if err := c.Mail("sender@example.org"); err != nil {
			return err
		}
		if err := c.Rcpt("nurse@example.org"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(testMail)); err != nil {
			return err
		}
		return w.Close()
	}
	if err := send(false, ""); err == nil {
		t.Error("mail without STARTTLS accepted")
	}
	if err := send(true, "wrong"); err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: %v; want a 535 refusal", err)
	}
	if err := send(true, "pw-1"); err != nil {
		t.Fatalf("STARTTLS and login: %v", err)
	}
	if msgs := s.WaitMessages(t, 1); len(msgs) != 1 {
		t.Errorf("%d messages, want only the one sent with TLS and login", len(msgs))
	}
}

// TestImplicitTLS: the port speaks TLS from the first byte, verified with
// CAFile, and SMTPURL says smtps.
func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	s := Start(t, Config{ImplicitTLS: true})
	if !strings.HasPrefix(s.SMTPURL(), "smtps://") {
		t.Errorf("SMTPURL %q, want smtps://", s.SMTPURL())
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(s.CAFile())
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", s.SMTPAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS to %s: %v", s.SMTPAddr(), err)
	}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatalf("greeting over TLS: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

// TestStop: after Stop neither port answers, and Stop again does nothing.
func TestStop(t *testing.T) {
	t.Parallel()
	s := Start(t, Config{})
	s.Stop()
	s.Stop()
	for _, addr := range []string{s.SMTPAddr(), s.httpAddr()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still answers after Stop", addr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Messages(ctx); err == nil {
		t.Error("Messages succeeded after Stop")
	}
}
