package notify

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mailpittest"
)

// emailConfig is a receiver for the mailpit s, logging in as user with
// password when user is not empty.
func emailConfig(t *testing.T, s *mailpittest.Server, user, password, lang string) config.AlertReceiver {
	t.Helper()
	c := config.AlertReceiver{
		Name: "ward-mail", Type: config.ReceiverEmail, URL: s.SMTPURL(),
		From: "ICU Gateway <icugate@h1.example>", To: []string{"nurse@h1.example", "Biomed <biomed@h1.example>"},
		StartTLS: "required", Language: lang, Timeout: 10 * time.Second,
	}
	if s.CAFile() != "" {
		c.TLS = &config.TLS{CAFile: s.CAFile()}
	}
	if user != "" {
		c.UsernameFile = writeFile(t, "user", user+"\n")
		c.PasswordFile = writeFile(t, "password", password+"\n")
	}
	return c
}

func newEmailFor(t *testing.T, c config.AlertReceiver) Receiver {
	t.Helper()
	r, err := New(c, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEmailSTARTTLSWithLogin, against a mailpit that requires STARTTLS and
// a login: Check passes without sending; a firing and a resolved
// notification arrive from and to the configured addresses, with the
// subject (English / Chinese) and a body holding the device, both
// summaries, the cause and the ids; a wrong password, or a CA that did
// not sign the server's certificate, fail Send and Check in plain words
// and deliver nothing.
func TestEmailSTARTTLSWithLogin(t *testing.T) {
	t.Parallel()
	s := mailpittest.Start(t, mailpittest.Config{RequireSTARTTLS: true, Users: map[string]string{"gateway": "pw-1"}})
	ctx := context.Background()
	r := newEmailFor(t, emailConfig(t, s, "gateway", "pw-1", "both"))
	if err := r.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	start := time.Now().Add(-3 * time.Minute)
	fire := firingAt(start, "vent-offline/device/vent-a2")
	res := resolvedAt(fire, time.Now())
	for _, n := range []Notification{fire, res} {
		if err := r.Send(ctx, n); err != nil {
			t.Fatalf("Send %s: %v", n.Status, err)
		}
	}
	msgs := s.WaitMessages(t, 2)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2 (Check must not send one)", len(msgs))
	}
	for i, c := range []struct {
		n       Notification
		subject string
		body    []string
	}{
		{fire, "[icugate critical] Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline / ICU A icu-a-2床 呼吸机 vent-a2离线",
			[]string{"Device: vent-a2", "设备：vent-a2", "Kind: ventilator", "Bed: icu-a-2", "Unit: icu-a", fire.Summary.EN, fire.Summary.ZH,
				fire.Description.ZH, "Cause: " + fire.Cause, "Status: firing, severity critical", "状态：告警中，级别 critical",
				"Alert ID: " + fire.AlertID, "Notification ID: " + fire.ID, "Started: " + mailTime(fire.StartsAt)}},
		{res, "[icugate resolved] Resolved: Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline / 已恢复：ICU A icu-a-2床 呼吸机 vent-a2离线",
			[]string{"Device: vent-a2", res.Summary.ZH, "Status: resolved", "状态：已恢复", "Ended: " + mailTime(res.EndsAt),
				"结束时间：" + mailTime(res.EndsAt), "Notification ID: " + res.ID}},
	} {
		m := msgs[i]
		if m.Subject != c.subject {
			t.Errorf("%s: subject %q, want %q", c.n.Status, m.Subject, c.subject)
		}
		if m.From != "icugate@h1.example" || strings.Join(m.To, ",") != "nurse@h1.example,biomed@h1.example" {
			t.Errorf("%s: from %q to %q", c.n.Status, m.From, m.To)
		}
		for _, w := range c.body {
			if !strings.Contains(m.Text, w) {
				t.Errorf("%s: body lacks %q:\n%s", c.n.Status, w, m.Text)
			}
		}
		if m.MessageID != strings.Trim(messageID(c.n.ID), "<>") {
			t.Errorf("%s: Message-ID %q, want the notification's %q", c.n.Status, m.MessageID, messageID(c.n.ID))
		}
		if h := m.Headers["Content-Transfer-Encoding"]; len(h) != 1 || h[0] != "quoted-printable" {
			t.Errorf("%s: Content-Transfer-Encoding %q", c.n.Status, h)
		}
		if h := m.Headers["Content-Type"]; len(h) != 1 || !strings.EqualFold(h[0], "text/plain; charset=UTF-8") {
			t.Errorf("%s: Content-Type %q", c.n.Status, h)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		r := newEmailFor(t, emailConfig(t, s, "gateway", "bad-pass-xyz", "both"))
		for what, err := range map[string]error{"Send": r.Send(ctx, fire), "Check": r.Check(ctx)} {
			if err == nil || !strings.Contains(err.Error(), "receiver ward-mail: SMTP server "+s.SMTPAddr()+": refused the login") ||
				!strings.Contains(err.Error(), "535") {
				t.Errorf("%s: %v; want the refused login with the server's 535", what, err)
			}
			if err != nil && strings.Contains(err.Error(), "bad-pass-xyz") {
				t.Errorf("%s: the error carries the password: %v", what, err)
			}
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		c := emailConfig(t, s, "gateway", "pw-1", "both")
		c.TLS = nil // system roots do not know the test's CA
		err := newEmailFor(t, c).Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS: the server's certificate is not trusted (set tls.ca_file") {
			t.Errorf("Check: %v; want the untrusted certificate named", err)
		}
	})
	if msgs, err := s.Messages(ctx); err != nil || len(msgs) != 2 {
		t.Errorf("after the failures mailpit holds %d messages (%v), want still 2", len(msgs), err)
	}
}

// TestEmailSTARTTLSRequiredButNotOffered: against a server without TLS, a
// receiver that requires STARTTLS sends nothing and says STARTTLS is what
// is missing.
func TestEmailSTARTTLSRequiredButNotOffered(t *testing.T) {
	t.Parallel()
	s := mailpittest.Start(t, mailpittest.Config{})
	ctx := context.Background()
	r := newEmailFor(t, emailConfig(t, s, "", "", "both"))
	for what, err := range map[string]error{"Send": r.Send(ctx, firingAt(time.Now(), "a/b")), "Check": r.Check(ctx)} {
		if err == nil || !strings.Contains(err.Error(), "receiver ward-mail: SMTP server "+s.SMTPAddr()+" does not offer STARTTLS") {
			t.Errorf("%s: %v; want an error naming STARTTLS", what, err)
		}
	}
	if msgs, err := s.Messages(ctx); err != nil || len(msgs) != 0 {
		t.Errorf("mailpit holds %d messages (%v), want none", len(msgs), err)
	}
	// starttls: off is the explicit choice for a relay on the same host.
	c := emailConfig(t, s, "", "", "en")
	c.StartTLS = "off"
	if err := newEmailFor(t, c).Send(ctx, firingAt(time.Now(), "a/b")); err != nil {
		t.Errorf("starttls off: %v", err)
	}
	if msgs := s.WaitMessages(t, 1); msgs[0].Subject != "[icugate critical] Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline" {
		t.Errorf("starttls off, language en: subject %q", msgs[0].Subject)
	}
}

// TestEmailImplicitTLSChinese: smtps:// speaks TLS from the first byte,
// and language zh leaves English out of subject and body.
func TestEmailImplicitTLSChinese(t *testing.T) {
	t.Parallel()
	s := mailpittest.Start(t, mailpittest.Config{ImplicitTLS: true})
	ctx := context.Background()
	r := newEmailFor(t, emailConfig(t, s, "", "", "zh"))
	n := firingAt(time.Now(), "vent-offline/device/vent-a2")
	if err := r.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := r.Send(ctx, n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m := s.WaitMessages(t, 1)[0]
	if m.Subject != "[icugate critical] "+n.Summary.ZH {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, "设备：vent-a2") || strings.Contains(m.Text, n.Summary.EN) || strings.Contains(m.Text, "Device:") {
		t.Errorf("language zh body:\n%s", m.Text)
	}
}

// TestEmailHonoursTimeout: a server that accepts the connection and never
// greets fails the send at the receiver's timeout, in words.
func TestEmailHonoursTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		l.Close()
		for c := range accepted {
			c.Close()
		}
	})
	c := config.AlertReceiver{Name: "ward-mail", Type: config.ReceiverEmail, URL: "smtp://" + l.Addr().String(),
		From: "icugate@h1.example", To: []string{"nurse@h1.example"}, StartTLS: "required", Timeout: 100 * time.Millisecond}
	err = newEmailFor(t, c).Send(context.Background(), firingAt(time.Now(), "a/b"))
	if err == nil || !strings.Contains(err.Error(), "no SMTP greeting: no answer within the timeout (100ms)") {
		t.Errorf("silent server: %v", err)
	}
}

// TestEmailMessage: the composed mail parses as one, with an RFC 2047
// subject for each language choice, a Message-ID made of the
// notification's ID, and a quoted-printable UTF-8 body in lines of at
// most 76 characters.
func TestEmailMessage(t *testing.T) {
	t.Parallel()
	fire := firingAt(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), "vent-offline/device/vent-a2")
	res := resolvedAt(fire, time.Date(2026, 3, 1, 8, 10, 0, 0, time.UTC))
	fire.Repeat = true
	enOnly := fire
	enOnly.Summary.ZH = ""
	for _, c := range []struct {
		name, lang string
		n          Notification
		subject    string
		in, notIn  []string
	}{
		{"both", "both", fire, "[icugate critical] " + fire.Summary.EN + " / " + fire.Summary.ZH,
			[]string{"still firing (reminder)", "仍未恢复（提醒）"}, nil},
		{"en", "en", fire, "[icugate critical] " + fire.Summary.EN, []string{"Rule: vent-offline (device_offline)"}, []string{"设备"}},
		{"zh", "zh", res, "[icugate resolved] " + res.Summary.ZH, []string{"结束时间："}, []string{"Device:"}},
		{"missing Chinese falls back on English", "both", enOnly, "[icugate critical] " + fire.Summary.EN, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &email{from: &mail.Address{Name: "ICU Gateway", Address: "icugate@h1.example"},
				to: []*mail.Address{{Address: "nurse@h1.example"}}, lang: c.lang, now: func() time.Time { return c.n.At }}
			raw, err := e.message(c.n)
			if err != nil {
				t.Fatal(err)
			}
			m, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("not a mail: %v\n%s", err, raw)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subject != c.subject {
				t.Errorf("subject %q (%v), want %q", subject, err, c.subject)
			}
			if d, err := m.Header.Date(); err != nil || !d.Equal(c.n.At) {
				t.Errorf("Date %v (%v), want %v", d, err, c.n.At)
			}
			if id := m.Header.Get("Message-ID"); !regexp.MustCompile(`^<[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~.-]+@icugate>$`).MatchString(id) {
				t.Errorf("Message-ID %q is not a valid msg-id", id)
			}
			head, qp, _ := strings.Cut(string(raw), "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n") {
				if len(line) > 998 {
					t.Errorf("header line of %d characters: %q", len(line), line)
				}
			}
			for _, line := range strings.Split(qp, "\r\n") {
				if len(line) > 76 {
					t.Errorf("body line of %d characters: %q", len(line), line)
				}
			}
			body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(c.in, "vent-a2") {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			for _, w := range c.notIn {
				if strings.Contains(string(body), w) {
					t.Errorf("body has %q:\n%s", w, body)
				}
			}
		})
	}
}

// TestMessageIDKeepsIDsApart: escaping keeps distinct notification IDs
// distinct, so one notification's redelivery is the only duplicate.
func TestMessageIDKeepsIDsApart(t *testing.T) {
	t.Parallel()
	ids := []string{"h1:a/b:fire:1", "h1%3Aa/b:fire:1", "h1.a/b:fire:1", "h1-a/b-fire-1", "a..b", "a.%2Eb", ".a", "a.", "", "%", "%25"}
	seen := map[string]string{}
	for _, id := range ids {
		m := messageID(id)
		if other, ok := seen[m]; ok {
			t.Errorf("%q and %q both give %s", id, other, m)
		}
		seen[m] = id
		if _, err := mail.ParseAddress("x <" + strings.Trim(m, "<>") + ">"); err != nil {
			t.Errorf("%q gives %s, which does not parse as an addr-spec: %v", id, m, err)
		}
	}
}
