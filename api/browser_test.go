package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/icugate/icugate/pipeline"
)

func TestBrowserWardFollowsTheEngineLive(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Retry: 200 * time.Millisecond})
	b := newBrowser(t, f)
	b.do("load the ward view",
		chromedp.Navigate(b.url+"/#/ward"),
		b.visible(bedIs("icu-a-1", "occupied")),
		b.visible(bedIs("icu-a-2", "available")),
		b.visible(bedIs("icu-a-4", "degraded")),
		b.visible(`#conn[data-state="open"]`),
	)
	if hidden := b.eval(`String(document.querySelector("#banner").hidden)`); hidden != "true" {
		t.Errorf("stale banner shown while live and verified: %s", b.eval(`document.querySelector("#banner").textContent`))
	}
	if got := b.eval(`document.querySelector('li.bed[data-bed="icu-a-4"] details').textContent`); !strings.Contains(got, "ventilator") {
		t.Errorf("degraded bed's reason: %q", got)
	}
	// Mark the page: a reload would lose the mark. And record whether the
	// connection state and the banner ever show a drop.
	b.eval(`window.icugateTestMark = "still here"; new MutationObserver(() => {
		if (document.querySelector("#conn").dataset.state === "closed" &&
			!document.querySelector("#banner").hidden &&
			document.querySelector("#banner").dataset.reason.includes("connection")) window.icugateSawClosed = true;
	}).observe(document.querySelector("header"), {subtree: true, attributes: true, childList: true}); ""`)

	f.b.set("vent-a2", pipeline.InUse)
	b.do("tile follows a device going in use",
		b.visible(bedIs("icu-a-2", "occupied")),
		b.visible(`a.dev[data-dev="vent-a2"][data-state="in_use"]`),
	)
	b.waitFor("occupied total", `document.querySelector('[data-kpi="occupied"] dd').textContent.trim() === "2"`)

	// A device that stops answering goes stale: the bed degrades and the
	// counts are not verified any more.
	f.b.set("mon-a3", pipeline.Offline)
	for range 6 {
		f.b.step()
	}
	b.do("tile and banner follow a device going silent",
		b.visible(bedIs("icu-a-3", "degraded")),
		b.visible(`a.dev[data-dev="mon-a3"][data-state="offline"]`),
		b.visible(`#banner[data-reason~="unverified"]`),
	)
	if got := b.eval(`document.querySelector("#banner").textContent`); !strings.Contains(got, "mon-a3") {
		t.Errorf("banner does not name the stale device: %q", got)
	}
	if mark := b.eval(`String(window.icugateTestMark)`); mark != "still here" {
		t.Fatal("the page reloaded")
	}
	b.noHorizontalScroll("1366x768")
	b.screenshot("ward-view")

	// The connection drops: the page says so, reconnects by itself and
	// catches up with what changed meanwhile.
	b.ts.CloseClientConnections()
	f.b.set("vent-a3", pipeline.Fault)
	b.do("reconnect after a drop",
		b.visible(`#conn[data-state="open"]`),
		b.visible(`a.dev[data-dev="vent-a3"][data-state="fault"]`),
	)
	if saw := b.eval(`String(window.icugateSawClosed)`); saw != "true" {
		t.Errorf("the drop was not shown (connection state never left open)")
	}

	// Keyboard: a bed's reason opens from the keyboard and keeps focus
	// across live updates.
	b.do("open a reason with the keyboard",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('li.bed[data-bed="icu-a-4"] summary').focus()`),
		chromedp.KeyEvent("\r"),
		b.visible(`li.bed[data-bed="icu-a-4"] details[open] .reasons`),
	)
	f.b.set("vent-a1", pipeline.Standby)
	b.do("live update", b.visible(`a.dev[data-dev="vent-a1"][data-state="standby"]`))
	if got := b.eval(`document.activeElement.closest("li.bed")?.dataset.bed + " " + document.activeElement.tagName + " " + document.activeElement.parentElement.open`); got != "icu-a-4 SUMMARY true" {
		t.Errorf("focus or open reason lost by a live update: %s", got)
	}

	// Chinese labels.
	b.do("switch to Chinese", b.click("#lang"))
	b.waitFor("Chinese labels", `document.querySelector('nav a[data-view="ward"]').textContent === "病区视图"`)
	if got := b.eval(`document.querySelector('li.bed[data-bed="icu-a-2"] .bed-state strong').textContent`); got != "在用" {
		t.Errorf("bed state in Chinese: %q", got)
	}
	if got := b.eval(`document.querySelector('section[data-unit="conv"] .unit-class').textContent`); got != "可转换ICU床位" {
		t.Errorf("unit class in Chinese: %q", got)
	}
	b.screenshot("ward-view-zh")
	b.do("back to English", b.click("#lang"))

	// A tablet in portrait.
	b.do("tablet viewport", chromedp.EmulateViewport(820, 1180, chromedp.EmulateTouch), b.visible(bedIs("icu-a-2", "occupied")))
	b.noHorizontalScroll("820x1180")
	b.screenshot("ward-view-tablet")
	b.do("desktop viewport", chromedp.EmulateViewport(1366, 768))

	// The device table filters and sorts.
	b.do("open the device table",
		b.hash("#/devices"),
		b.visible(`#device-table tbody tr`),
		chromedp.SetValue(chromedp.CSS("#f-state"), "in_use"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#f-state").dispatchEvent(new Event("change"))`),
	)
	b.waitFor("filtered rows", `document.querySelectorAll("#device-table tbody tr").length === 2`)
	b.do("sort by id, descending",
		b.click(`th[data-col="id"] button`),
		b.visible(`th[data-col="id"][aria-sort="descending"]`),
	)
	if first := b.eval(`document.querySelector("#device-table tbody tr").dataset.dev`); first != "vent-a2" {
		t.Errorf("first row sorted by id descending: %s", first)
	}
}

func TestBrowserMaintenanceThroughTheUI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withToken())
	b := newBrowser(t, f)
	b.do("open a device page",
		chromedp.Navigate(b.url+"/#/device/vent-a2"),
		b.visible(`#maint-btn[aria-pressed="false"]`),
		b.visible(`#history-h`),
		b.visible(`#dev-usage-chart`),
	)
	back := time.Now().AddDate(0, 0, 2).Format(time.DateOnly)
	b.do("ask for maintenance, fill in the work order, give the token",
		b.click("#maint-btn"),
		b.visible("#maint-dialog[open]"),
		chromedp.SendKeys(chromedp.CSS("#maint-reason"), "annual PM"),
		chromedp.SendKeys(chromedp.CSS("#maint-ticket"), "CM-1042"),
		chromedp.SetValue(chromedp.CSS("#maint-return"), back),
		b.click("#maint-ok"),
		b.visible("#token-dialog[open]"),
		chromedp.SendKeys(chromedp.CSS("#token-input"), testToken),
		b.click("#token-ok"),
		b.visible(`#maint-btn[aria-pressed="true"]`),
		b.visible(`#action-msg.ok`),
	)
	res, err := http.Get(b.url + "/api/v1/devices/vent-a2")
	if err != nil {
		t.Fatal(err)
	}
	var d deviceDoc
	decodeBody(t, res, &d)
	if d.State.String() != "maintenance" || d.MaintenanceBy != "biomed" {
		t.Fatalf("API after the UI set maintenance: %s by %q", d.State, d.MaintenanceBy)
	}
	b.waitFor("history shows maintenance", `[...document.querySelectorAll(".timeline li")].some(li => li.textContent.includes("Maintenance"))`)
	b.waitFor("the work order on the device page", `(document.querySelector("#work-order")?.textContent || "").includes("CM-1042")`)
	if got := b.eval(`document.querySelector("#work-order").textContent`); !strings.Contains(got, "annual PM") || !strings.Contains(got, "biomed") || !strings.Contains(got, back) {
		t.Errorf("work order facts: %q", got)
	}
	b.screenshot("device-page")
	b.do("the maintenance view lists the open work order",
		b.hash("#/maintenance"),
		b.visible(`#wo-open tr[data-dev="vent-a2"][data-overdue="false"]`),
	)
	b.do("back to the device",
		b.hash("#/device/vent-a2"),
		b.visible(`#maint-btn[aria-pressed="true"]`),
	)

	// The token is kept for the tab: ending maintenance asks only to confirm.
	b.do("end maintenance",
		b.click("#maint-btn"),
		b.visible("#confirm-dialog[open]"),
		b.click("#confirm-ok"),
		b.visible(`#maint-btn[aria-pressed="false"]`),
	)
	if st := f.b.deviceState(t, "vent-a2"); st.State.String() != "standby" {
		t.Errorf("after ending maintenance: %s", st.State)
	}
	// The first try, without a token, is counted; the sign-in and the two
	// changes are in the audit trail.
	log := f.b.auditLog()
	if len(log) != 3 || log[0].Action != "sign_in" || log[0].Who != "biomed" || log[1].Result != "ok" ||
		!strings.HasPrefix(log[1].Detail, `on=true reason="annual PM" ticket="CM-1042" expected_return=`+back) || log[2].Detail != "on=false" {
		t.Errorf("audit trail: %+v", log)
	}
	if n := metricValue(f.srv.metrics.refused.WithLabelValues("maintenance", "missing token")); n != 1 {
		t.Errorf("refused calls without a token: %v, want 1", n)
	}
	// The browser keeps a session the page cannot read, not the token.
	if got := b.eval(`JSON.stringify([document.cookie, sessionStorage.length,
		Object.values(localStorage).filter(v => v.includes("` + testToken + `"))])`); got != `["",0,[]]` {
		t.Errorf("the token or session is readable by page scripts: %s", got)
	}
	if got := b.eval(`document.querySelector("#token-btn").textContent`); !strings.Contains(got, "biomed") {
		t.Errorf("the sign-out button does not name who is signed in: %q", got)
	}
}

func TestBrowserMoveShowsErrorsThenMoves(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withToken())
	b := newBrowser(t, f)
	b.do("open the spare ventilator",
		chromedp.Navigate(b.url+"/#/device/vent-p1"),
		b.visible(`#move-to`),
		chromedp.SetValue(chromedp.CSS("#move-to"), "icu-a-4"),
		b.click("#move-btn"),
		b.visible("#confirm-dialog[open]"),
	)
	if got := b.eval(`document.querySelector("#confirm-text").textContent`); !strings.Contains(got, "central") || !strings.Contains(got, "icu-a-4") {
		t.Errorf("confirmation text: %q", got)
	}
	b.do("confirm with a wrong token: asked again with the reason",
		b.click("#confirm-ok"),
		b.visible("#token-dialog[open]"),
		chromedp.SendKeys(chromedp.CSS("#token-input"), "wrong"),
		b.click("#token-ok"),
		b.visible("#token-dialog[open] #token-reason"),
	)
	if got := b.eval(`document.querySelector("#token-reason").textContent`); !strings.Contains(got, "not a configured API token") {
		t.Errorf("reason shown: %q", got)
	}
	b.do("cancel: the move is not done, and says why",
		b.click(`#token-dialog button[value="cancel"]`),
		b.visible(`#action-msg.error[role="alert"]`),
	)
	if got := b.eval(`document.querySelector("#action-msg").textContent`); !strings.Contains(got, "missing token") {
		t.Errorf("error shown: %q", got)
	}
	if st := f.b.deviceState(t, "vent-p1"); st.At != "central" {
		t.Fatalf("a refused move moved the device to %s", st.At)
	}
	b.do("retry with the right token",
		chromedp.SetValue(chromedp.CSS("#move-to"), "icu-a-4"),
		b.click("#move-btn"),
		b.visible("#confirm-dialog[open]"),
		b.click("#confirm-ok"),
		b.visible("#token-dialog[open]"),
		chromedp.SendKeys(chromedp.CSS("#token-input"), testToken),
		b.click("#token-ok"),
		b.visible(`#action-msg.ok`),
	)
	if st := f.b.deviceState(t, "vent-p1"); st.At != "icu-a-4" {
		t.Fatalf("after the move: at %s", st.At)
	}
	b.do("the ward shows the bed equipped",
		b.hash("#/ward"),
		b.visible(bedIs("icu-a-4", "available")),
		b.visible(`li.bed[data-bed="icu-a-4"] a.dev[data-dev="vent-p1"]`),
	)
}
