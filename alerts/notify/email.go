package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"os"
	"time"

	"github.com/icugate/icugate/config"
)

// email sends each notification as one mail over SMTP. It opens a
// connection per notification: alerts are rare, and a connection kept
// open would be dropped by the server between them.
type email struct {
	name     string
	addr     string // host:port
	host     string // the server's name for TLS and AUTH
	implicit bool   // smtps://: TLS from the first byte
	startTLS bool   // smtp:// with starttls: required
	tls      *tls.Config
	login    bool
	user     string
	pass     string
	from     *mail.Address
	to       []*mail.Address
	lang     string
	hello    string
	timeout  time.Duration
	now      func() time.Time
}

func newEmail(cfg config.AlertReceiver, deps Deps) (*email, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, errorf(cfg.Name, "url %q: want smtp://host:587 (STARTTLS) or smtps://host:465", redact(cfg.URL))
	}
	e := &email{
		name: cfg.Name, addr: hostPort(u), host: u.Hostname(),
		implicit: u.Scheme == "smtps", startTLS: u.Scheme == "smtp" && cfg.StartTLS != "off",
		lang: cfg.Language, timeout: cfg.Timeout, now: deps.Now, hello: helloName(),
	}
	tc, err := cfg.TLS.ClientConfig("receiver " + cfg.Name)
	if err != nil {
		return nil, err
	}
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = e.host
	}
	e.tls = tc
	if e.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, errorf(cfg.Name, "from %q is not an e-mail address: %w", cfg.From, err)
	}
	if len(cfg.To) == 0 {
		return nil, errorf(cfg.Name, "to is required: the recipients' addresses")
	}
	for _, to := range cfg.To {
		a, err := mail.ParseAddress(to)
		if err != nil {
			return nil, errorf(cfg.Name, "to %q is not an e-mail address: %w", to, err)
		}
		e.to = append(e.to, a)
	}
	if cfg.UsernameFile != "" || cfg.PasswordFile != "" {
		if e.user, err = readSecretFile(cfg.Name, "username_file", cfg.UsernameFile); err != nil {
			return nil, err
		}
		if e.pass, err = readSecretFile(cfg.Name, "password_file", cfg.PasswordFile); err != nil {
			return nil, err
		}
		e.login = true
	}
	if e.login && !e.implicit && !e.startTLS {
		return nil, errorf(cfg.Name, "starttls off with a login would send the password in clear text: use STARTTLS or smtps://")
	}
	switch e.lang {
	case "zh", "en", "both":
	case "":
		e.lang = "both"
	default:
		return nil, errorf(cfg.Name, "language %q: want zh, en or both", cfg.Language)
	}
	return e, nil
}

// helloName is the name the gateway gives in EHLO: its host name, which
// relays log, or "localhost" when it has none that is a valid domain.
func helloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || len(h) > 253 {
		return "localhost"
	}
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "localhost"
		}
	}
	return h
}

func (e *email) Name() string { return e.name }

// Send mails n to every recipient; it returns nil once the server
// answered 250 to the message's DATA.
func (e *email) Send(ctx context.Context, n Notification) error {
	msg, err := e.message(n)
	if err != nil {
		return errorf(e.name, "composing the mail for notification %s: %w", n.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	c, done, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := c.Mail(e.from.Address); err != nil {
		return e.fail(ctx, fmt.Sprintf("refused the sender %s", e.from.Address), err)
	}
	for _, to := range e.to {
		if err := c.Rcpt(to.Address); err != nil {
			return e.fail(ctx, fmt.Sprintf("refused the recipient %s", to.Address), err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return e.fail(ctx, "refused to take a message (DATA)", err)
	}
	if _, err := w.Write(msg); err != nil {
		return e.fail(ctx, "sending the message", err)
	}
	// Close ends DATA and waits for the server's verdict on the message.
	if err := w.Close(); err != nil {
		return e.fail(ctx, "did not accept the message", err)
	}
	// The server has the mail; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// Check connects, greets, secures the connection and logs in as Send
// would, then quits without sending mail.
func (e *email) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	c, done, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := c.Quit(); err != nil {
		return e.fail(ctx, "QUIT", err)
	}
	return nil
}

// open connects, greets, starts TLS and logs in. The connection's deadline
// is ctx's, and ctx's cancellation ends a blocked read at once. done
// closes the connection.
func (e *email) open(ctx context.Context) (*smtp.Client, func(), error) {
	var conn net.Conn
	var err error
	if e.implicit {
		conn, err = (&tls.Dialer{Config: e.tls}).DialContext(ctx, "tcp", e.addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", e.addr)
	}
	if err != nil {
		what := "cannot connect"
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			what = "TLS: the server's certificate is not trusted (set tls.ca_file to the CA that signed it)"
		}
		return nil, nil, e.fail(ctx, what, err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		stop()
		conn.Close()
		return nil, nil, e.fail(ctx, "no SMTP greeting", err)
	}
	done := func() { stop(); c.Close() }
	if err := e.secure(ctx, c); err != nil {
		done()
		return nil, nil, err
	}
	return c, done, nil
}

// secure does EHLO, STARTTLS where configured, and AUTH PLAIN where a
// login is configured.
func (e *email) secure(ctx context.Context, c *smtp.Client) error {
	if err := c.Hello(e.hello); err != nil {
		return e.fail(ctx, "EHLO", err)
	}
	if e.startTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errorf(e.name, "SMTP server %s does not offer STARTTLS, and starttls is required: enable TLS on the server, use smtps://, or set starttls: off for a relay on the same host (without a login)", e.addr)
		}
		if err := c.StartTLS(e.tls); err != nil {
			var cv *tls.CertificateVerificationError
			if errors.As(err, &cv) {
				return e.fail(ctx, "STARTTLS: the server's certificate is not trusted (set tls.ca_file to the CA that signed it)", err)
			}
			return e.fail(ctx, "STARTTLS failed", err)
		}
	}
	if !e.login {
		return nil
	}
	if ok, _ := c.Extension("AUTH"); !ok {
		return errorf(e.name, "SMTP server %s does not offer AUTH, but username_file and password_file are set", e.addr)
	}
	if err := c.Auth(smtp.PlainAuth("", e.user, e.pass, e.host)); err != nil {
		return e.fail(ctx, "refused the login (check username_file and password_file)", err)
	}
	return nil
}

// fail words an SMTP error: the server, what failed, and the server's
// reply or the network error. The login never appears: net/smtp's errors
// carry the server's reply, not what was sent.
func (e *email) fail(ctx context.Context, what string, err error) error {
	if why := gaveUp(ctx, err, e.timeout); why != "" {
		return errorf(e.name, "SMTP server %s: %s: %s: %w", e.addr, what, why, err)
	}
	return errorf(e.name, "SMTP server %s: %s: %w", e.addr, what, err)
}
