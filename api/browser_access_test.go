package api

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserReadProtectionAndAudit opens the dashboard of a gateway whose
// reads need a token: it asks for one before showing anything, shows the
// ward to a viewer, asks again (naming the role) when the viewer opens the
// audit trail, and shows the trail, filtered, with a CSV download of the
// same selection, to an engineer.
func TestBrowserReadProtectionAndAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Tokens: roleTokens(), ReadRequiresToken: true, PublicHealth: true})
	b := newBrowser(t, f)
	b.do("the dashboard asks for a token first",
		chromedp.Navigate(b.url+"/#/ward"),
		b.visible("#token-dialog[open]"),
	)
	if got := b.eval(`document.querySelector("#token-reason").textContent`); !strings.Contains(got, "needs a token") {
		t.Errorf("the prompt does not say why: %q", got)
	}
	if got := b.eval(`document.querySelectorAll("li.bed").length + ""`); got != "0" {
		t.Errorf("beds shown before signing in: %s", got)
	}
	b.do("a viewer signs in and sees the ward",
		chromedp.SendKeys(chromedp.CSS("#token-input"), viewerToken),
		b.click("#token-ok"),
		b.visible(`li.bed[data-bed="icu-a-1"]`),
		b.visible(`#conn[data-state="open"]`),
	)
	if got := b.eval(`document.querySelector("#token-btn").textContent`); !strings.Contains(got, "ward-screen") || !strings.Contains(got, "viewer") {
		t.Errorf("sign-out button: %q", got)
	}
	b.do("the audit trail needs an engineer: asked with the reason",
		b.hash("#/audit"),
		b.visible("#token-dialog[open]"),
	)
	if got := b.eval(`document.querySelector("#token-reason").textContent`); !strings.Contains(got, "engineer") {
		t.Errorf("the prompt does not name the role: %q", got)
	}
	b.do("an engineer signs in and sees the trail",
		chromedp.SendKeys(chromedp.CSS("#token-input"), engineerToken),
		b.click("#token-ok"),
		b.visible(`#audit-table tr[data-action="sign_in"][data-who="biomed"]`),
		b.visible(`#audit-table tr[data-who="ward-screen"]`),
	)
	b.do("filter by who",
		chromedp.SetValue(chromedp.CSS("#audit-who"), "ward-screen"),
		b.click("#audit-apply"),
	)
	b.waitFor("only the viewer's entries", `document.querySelectorAll("#audit-table tbody tr").length > 0 &&
		[...document.querySelectorAll("#audit-table tbody tr")].every(tr => tr.dataset.who === "ward-screen")`)
	if href := b.eval(`document.querySelector("#audit-csv").getAttribute("href")`); !strings.Contains(href, "who=ward-screen") || !strings.Contains(href, "format=csv") {
		t.Errorf("CSV link does not carry the filter: %q", href)
	}
	b.eval(`fetch(document.querySelector("#audit-csv").href).then(r => r.text()).then(t => { window.auditCSV = t; }); ""`)
	b.waitFor("the CSV download", `typeof window.auditCSV === "string"`)
	csv := b.eval(`window.auditCSV`)
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(csv, "\ufeff")), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "time,who,remote,action,device,detail,status,result" {
		t.Fatalf("CSV: %q", csv)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",ward-screen,") {
			t.Errorf("CSV row outside the filter: %q", l)
		}
	}
	b.screenshot("audit")
	b.do("sign out: reading needs a token again",
		b.click("#token-btn"),
	)
	b.waitFor("signed out", `document.querySelector("#token-btn").dataset.signedIn === "false"`)
}
