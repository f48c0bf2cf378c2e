package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// download clicks the link sel and waits for the browser to save the
// file: it returns the file's text and the name the server suggested.
func (b *browser) download(sel string) (text, name string) {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	begin := chromedp.Events(ctx, cdpbrowser.DownloadWillBegin)
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	yes := true
	b.do("download "+sel,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes,
			})
			return err
		}),
		b.click(sel),
	)
	guid := ""
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download %s: %v", sel, err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			b.t.Fatalf("download %s cancelled", sel)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
	}
	for ev, err := range begin {
		if err != nil {
			b.t.Fatalf("download %s: %v", sel, err)
		}
		if ev.GUID == guid {
			name = ev.SuggestedFilename
			break
		}
	}
	buf, err := os.ReadFile(filepath.Join(dir, guid))
	if err != nil {
		b.t.Fatalf("the downloaded file: %v", err)
	}
	return string(buf), name
}

// count is how many elements sel matches.
func (b *browser) count(sel string) int {
	b.t.Helper()
	var n int
	fmt.Sscan(b.eval(fmt.Sprintf(`document.querySelectorAll(%q).length + ""`, sel)), &n)
	return n
}

// TestBrowserUsageChartsAndCSV opens a device page and the Usage view over
// the test backend's usage (every device has data for the last
// fakeUsageDays days): the stacked bars are there, one per day, those
// without data marked as such, each state labelled in the legend and the
// tooltip, the figures follow the formulas, the range buttons redraw the
// chart, and the CSV links download CSV files with the expected header
// and rows. Nothing on the way breaks the content security policy.
func TestBrowserUsageChartsAndCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	b := newBrowser(t, f)
	today := usageDay(f, 0)
	b.do("open vent-a1's page", chromedp.Navigate(b.url+"/#/device/vent-a1"), b.visible("#dev-usage-chart"))
	b.eval(`window.cspViolations = []; document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective)); ""`)

	// 30 days by default: 10 with data, each a stack of the five states.
	b.waitFor("30 bars", `document.querySelectorAll("#dev-usage-chart g.usage-day").length === 30`)
	if got := fmt.Sprint(b.count(`#dev-usage-chart g.usage-day[data-nodata="false"]`), b.count(`#dev-usage-chart g.usage-day[data-nodata="true"]`),
		b.count(`#dev-usage-chart g.usage-day[data-nodata="false"] rect[data-state]`)); got != "10 20 50" {
		t.Errorf("bars with data, without, state segments: %s; want 10 20 50", got)
	}
	if got := b.eval(`[...document.querySelectorAll("#dev-usage .usage-legend li")].map(li => li.textContent.trim()).join("|")`); got != "In use|Standby|Offline|Fault|Maintenance|No data" {
		t.Errorf("legend: %q", got)
	}
	bar := fmt.Sprintf(`#dev-usage-chart g.usage-day[data-day=%q]`, today)
	if got := b.eval(`document.querySelector('` + bar + ` title').textContent`); !strings.Contains(got, "In use 2.0 h") || !strings.Contains(got, "Standby 18.0 h") || !strings.Contains(got, "Availability 83.3 %") {
		t.Errorf("today's tooltip: %q", got)
	}
	// Heights: 2 h of a full 24 h bar.
	if got := b.eval(`(() => { const rs = [...document.querySelectorAll('` + bar + ` rect')]; const all = rs.reduce((s, r) => s + +r.getAttribute("height"), 0);
		return (+rs.find(r => r.dataset.state === "in_use").getAttribute("height") / all).toFixed(4); })()`); got != fmt.Sprintf("%.4f", 2.0/24) {
		t.Errorf("in-use share of today's bar %s, want 2/24", got)
	}
	figure := func(name string) string {
		return b.eval(fmt.Sprintf(`document.querySelector('#dev-usage-figures dd[data-figure=%q]').textContent`, name))
	}
	if got := figure("availability") + " " + figure("utilisation") + " " + figure("days"); got != "83.3 % 10.0 % 10 of 30" {
		t.Errorf("figures: %q", got)
	}

	b.do("90 days from the keyboard",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#dev-usage button[data-days="90"]').focus()`),
		chromedp.KeyEvent("\r"),
		b.visible(`#dev-usage button[data-days="90"][aria-pressed="true"]`),
	)
	b.waitFor("90 bars", `document.querySelectorAll("#dev-usage-chart g.usage-day").length === 90`)
	if got := b.eval(`document.activeElement.dataset.days || document.activeElement.tagName`); got != "90" {
		t.Errorf("focus after choosing a range from the keyboard: %s, want the 90-day button", got)
	}
	b.do("a week", b.click(`#dev-usage button[data-days="7"]`), b.visible(`#dev-usage button[data-days="7"][aria-pressed="true"]`))
	b.waitFor("7 bars", `document.querySelectorAll("#dev-usage-chart g.usage-day").length === 7`)
	if href := b.eval(`document.querySelector("#dev-usage-csv").getAttribute("href")`); href != "api/v1/usage?by=device&days=7&id=vent-a1&format=csv" {
		t.Errorf("CSV link %q", href)
	}
	text, name := b.download("#dev-usage-csv")
	if want := fmt.Sprintf("h1-usage-device-vent-a1-%s_%s.csv", usageDay(f, 6), today); name != want {
		t.Errorf("downloaded as %q, want %q", name, want)
	}
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) != 1+7+2 {
		t.Fatalf("the device's CSV (%v): %q", err, text)
	}
	if got := strings.Join(recs[0], ","); got != "day,device,kind,units,devices,in_use_hours,standby_hours,offline_hours,fault_hours,maintenance_hours,observed_hours,availability_pct,utilisation_pct" {
		t.Errorf("CSV header: %s", got)
	}
	if got := strings.Join(recs[7], ","); got != today+",vent-a1,ventilator,icu-a,1,2.000,18.000,2.000,1.000,1.000,24.000,83.33,10.00" {
		t.Errorf("CSV, today: %s", got)
	}
	b.screenshot("device-usage")

	// The Usage view: the hospital's chart, then per unit and per kind.
	b.do("open the Usage view", b.click(`nav a[data-view="usage"]`), b.visible("#usage-units"), b.visible("#usage-kinds"))
	if got := b.eval(`[...document.querySelectorAll("#usage-units tbody tr")].map(tr => tr.dataset.group).join(" ")`); got != "icu-a ccu (store)" {
		t.Errorf("unit rows: %q", got)
	}
	if got := b.eval(`[...document.querySelectorAll("#usage-kinds tbody th")].map(th => th.textContent).join("|")`); got != "Patient monitor|Ventilator|CRRT|ECMO" {
		t.Errorf("kind rows: %q", got)
	}
	if got := b.eval(`document.querySelector('#usage-units tr[data-group="(store)"] th').textContent`); got != "Hospital store" {
		t.Errorf("the store's row: %q", got)
	}
	if got := fmt.Sprint(b.count(`#usage-chart g.usage-day`), b.count(`#usage-chart g.usage-day[data-nodata="false"]`)); got != "30 10" {
		t.Errorf("hospital chart: %s bars (with data); want 30 10", got)
	}
	text, name = b.download("#usage-csv-kind")
	if !strings.HasPrefix(text, "day,kind,kind,units,devices,") || !strings.Contains(name, "usage-by-kind") || !strings.Contains(text, "\ntotal,(all),") {
		t.Errorf("kinds CSV %q: %.200q", name, text)
	}
	b.screenshot("usage-view")

	// A unit's page: its chart and its CSV.
	b.do("open icu-a", b.click(`#usage-units tr[data-group="icu-a"] a`), b.visible("#usage-chart"))
	b.waitFor("the unit's page", `location.hash === "#/usage/unit/icu-a" && document.querySelector("#usage-title").textContent === "General ICU A (icu-a)"`)
	b.waitFor("30 bars", `document.querySelectorAll("#usage-chart g.usage-day").length === 30 && !!document.querySelector("#usage-figures")`)
	if got := b.eval(`document.querySelector('#usage-figures dd[data-figure="utilisation"]').textContent`); got != "28.8 %" {
		t.Errorf("icu-a utilisation %q, want 28.8 %% (46 h in use of 160 available a day)", got)
	}
	text, _ = b.download("#usage-csv")
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != 1+30+2 || !strings.HasPrefix(lines[0], "day,unit,") || !strings.HasPrefix(lines[30], today+",icu-a,,,8,46.000,") {
		t.Errorf("icu-a CSV: %q", text)
	}

	// Chinese labels, and back to the overview.
	b.do("Chinese", b.click("#lang"))
	b.waitFor("Chinese legend", `[...document.querySelectorAll("#view-usage .usage-legend li")].map(li => li.textContent.trim()).join("|") === "使用中|待机|离线|故障|维护|无数据"`)
	if got := b.eval(`document.querySelector('#view-usage button[data-days="30"]').textContent`); got != "30 天" {
		t.Errorf("range button in Chinese: %q", got)
	}
	b.do("English", b.click("#lang"))
	b.do("back to all units", b.click(`#view-usage a[href="#/usage"]`), b.visible("#usage-units"))

	if got := b.eval(`String(window.cspViolations.length) + " " + document.querySelectorAll("[style]").length`); got != "0 0" {
		t.Errorf("CSP violations, elements with a style attribute: %s (%s)", got, b.eval(`window.cspViolations.join(",")`))
	}
}
