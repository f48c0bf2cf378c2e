package notify

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
)

// message is the whole mail for n: headers, then a text/plain UTF-8 body in
// quoted-printable (Chinese text and long causes pass any relay that way,
// in lines under 76 characters).
func (e *email) message(n Notification) ([]byte, error) {
	var b bytes.Buffer
	to := make([]string, len(e.to))
	for i, a := range e.to {
		to[i] = a.String()
	}
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", e.from.String())
	header("To", strings.Join(to, ",\r\n "))
	header("Date", e.now().Format(time.RFC1123Z))
	header("Message-ID", messageID(n.ID))
	header("Subject", foldEncoded(mime.BEncoding.Encode("UTF-8", emailSubject(n, e.lang))))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(emailBody(n, e.lang))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// emailSubject is "[icugate <severity>] <summary>", or "[icugate
// resolved] <summary>" when the alert ended; both languages are English
// first, then " / " and Chinese.
func emailSubject(n Notification, lang string) string {
	tag := "[icugate " + n.Severity + "] "
	if n.Status == StatusResolved {
		tag = "[icugate resolved] "
	}
	return tag + inLanguage(n.Summary, lang, " / ")
}

// inLanguage picks t's text for lang, falling back on the other language
// when one is missing.
func inLanguage(t Text, lang, sep string) string {
	en, zh := t.EN, t.ZH
	if en == "" {
		en = zh
	}
	if zh == "" {
		zh = en
	}
	switch {
	case lang == "en":
		return en
	case lang == "zh":
		return zh
	case en == zh:
		return en
	}
	return en + sep + zh
}

// foldEncoded puts each RFC 2047 encoded-word (75 characters at most) of a
// long subject on a line of its own; readers join them.
func foldEncoded(v string) string {
	return strings.ReplaceAll(v, "?= =?", "?=\r\n =?")
}

// messageID makes the notification's ID a Message-ID: characters not
// allowed there (":" in our IDs) are %-escaped, so distinct IDs stay
// distinct and a redelivered notification has the Message-ID of its
// first delivery, which lets mail clients hide the duplicate.
func messageID(id string) string {
	var b strings.Builder
	b.WriteByte('<')
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&'*+-/=?^_`{|}~", c) >= 0 ||
			c == '.' && i > 0 && i < len(id)-1 && id[i-1] != '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if len(id) == 0 {
		b.WriteByte('%') // no escape is a lone %: unlike any real ID
	}
	b.WriteString("@icugate>")
	return b.String()
}

// bodyLabels are the field names of the mail body in each language.
var bodyLabels = map[string]struct {
	colon, comma string
	status, firing, repeat, resolved, severity, rule, hospital, device, kind, bed, unit,
	source, cause, starts, ends, alert, notification string
}{
	"en": {": ", ", ", "Status", "firing", "still firing (reminder)", "resolved", "severity", "Rule", "Hospital", "Device", "Kind",
		"Bed", "Unit", "Source", "Cause", "Started", "Ended", "Alert ID", "Notification ID"},
	"zh": {"：", "，", "状态", "告警中", "仍未恢复（提醒）", "已恢复", "级别", "规则", "医院", "设备", "设备类型",
		"床位", "病区", "来源", "原因", "开始时间", "结束时间", "告警 ID", "通知 ID"},
}

// emailBody is the mail's text: summary, description and the alert's
// facts, in English, Chinese, or English then Chinese.
func emailBody(n Notification, lang string) string {
	langs := []string{lang}
	if lang != "en" && lang != "zh" {
		langs = []string{"en", "zh"}
	}
	var b strings.Builder
	for i, l := range langs {
		if i > 0 {
			b.WriteString("\n----------------------------------------\n\n")
		}
		writeBody(&b, n, l)
	}
	return b.String()
}

func writeBody(b *strings.Builder, n Notification, lang string) {
	lb := bodyLabels[lang]
	fmt.Fprintf(b, "%s\n\n", inLanguage(n.Summary, lang, ""))
	if d := inLanguage(n.Description, lang, ""); d != "" {
		fmt.Fprintf(b, "%s\n\n", d)
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "%s%s%s\n", k, lb.colon, v)
		}
	}
	status := lb.firing
	switch {
	case n.Status == StatusResolved:
		status = lb.resolved
	case n.Repeat:
		status = lb.repeat
	}
	if n.Severity != "" {
		status += lb.comma + lb.severity + " " + n.Severity
	}
	line(lb.status, status)
	rule := n.Rule
	if n.Condition != "" {
		rule += " (" + n.Condition + ")"
	}
	line(lb.rule, rule)
	line(lb.hospital, n.Hospital)
	line(lb.device, n.Device)
	line(lb.kind, n.Kind)
	line(lb.bed, n.Bed)
	line(lb.unit, n.Unit)
	line(lb.source, n.Source)
	line(lb.cause, n.Cause)
	line(lb.starts, mailTime(n.StartsAt))
	line(lb.ends, mailTime(n.EndsAt))
	line(lb.alert, n.AlertID)
	line(lb.notification, n.ID)
}

// mailTime is t in the gateway's time zone, with the offset so a reader
// elsewhere can convert it.
func mailTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05 -0700")
}
