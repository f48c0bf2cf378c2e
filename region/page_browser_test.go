package region

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/browsertest"
	"github.com/icugate/icugate/internal/influxtest"
)

// regionPage is a headless Chromium tab on a test server of h, failing
// the test on any uncaught exception or console error (a script refused
// by the Content-Security-Policy is one).
func regionPage(t *testing.T, h http.Handler) (context.Context, string) {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	ctx := browsertest.New(t, 60*time.Second)
	var mu sync.Mutex
	var errs []string
	err := chromedp.Listen(ctx, func(ev any) {
		msg := ""
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
		case *runtime.EventConsoleAPICalled:
			if ev.Type != "error" {
				return
			}
			msg = "console.error:"
			for _, a := range ev.Args {
				msg += " " + string(a.Value) + a.Description
			}
		default:
			return
		}
		mu.Lock()
		errs = append(errs, msg)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("page error: %s", e)
		}
	})
	return ctx, ts.URL
}

// regionScreenshot saves a full-page PNG to $ICUGATE_ARTIFACTS/region
// (default $TMPDIR/icugate-artifacts) for a person to look at.
func regionScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("ICUGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "icugate-artifacts")
	}
	dir = filepath.Join(dir, "region")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// The region page in Chromium with a day of hourly reports in a real
// InfluxDB: the district table has the region and both districts; each
// chart is an SVG with one line per district and a point per report; the
// export links answer with attachments of the right type and name; the
// chart script runs under the page's CSP (no inline script, no error).
func TestRegionPageInChromium(t *testing.T) {
	browsertest.Path(t)
	srv := influxtest.Start(t, influxtest.Options{})
	t.Setenv("ICUGATE_INFLUXDB_TOKEN", srv.Token)
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-23 * time.Hour)
	hr := newHistoryRegion(t, &config.InfluxDB{URL: srv.URL, Bucket: srv.Bucket}, start)
	for i := range 24 {
		hr.feed(t, start.Add(time.Duration(i)*time.Hour), i%4)
	}
	hr.clock.Set(end.Add(time.Minute)) // trends end at now, exclusive
	ctx, url := regionPage(t, hr.r.Handler())

	if _, err := chromedp.Run(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("figure.chart")].every(f => f.dataset.state)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("charts not drawn: %v\n%s", err, evalString(t, ctx, `document.querySelector("#charts").outerHTML`))
	}
	if got := evalString(t, ctx, `[...document.querySelectorAll("#districts tr")].slice(1).map(r => r.cells[0].textContent + "=" + r.cells[1].textContent).join(" ")`); got != "R01=whole region D01=Central City D02=北部县" {
		t.Errorf("district rows %q", got)
	}
	// Chart 1: equipped ICU beds by district; 24 hourly reports in 51-minute buckets.
	got := evalString(t, ctx, `[...document.querySelectorAll("figure.chart")].map(f => f.dataset.state + ":" + [...f.querySelectorAll("svg polyline.series")].map(l => l.dataset.key + "/" + l.points.numberOfItems).join(",")).join(" ")`)
	if got != "ready:D01/24,D02/24 ready:D01/24,D02/24 ready:D01/24,D02/24" {
		t.Errorf("charts %q", got)
	}
	// Chart 2 is per 100,000 with the 2027 target (18) as a line: D02's
	// 6 equipped ICU beds for 50,000 people are 12 per 100k: two thirds
	// of the way from the axis (y 192) to the target line.
	if got := evalString(t, ctx, `(() => { const f = document.querySelectorAll("figure.chart")[1]; const t = f.querySelector("line.target"); const d2 = f.querySelector('polyline[data-key="D02"]').points.getItem(0);
		const base = 192, y = (v) => base - (base - Number(t.getAttribute("y1"))) * v / 18; return Math.abs(d2.y - y(12)) < 0.2 ? "ok" : d2.y + " vs " + y(12); })()`); got != "ok" {
		t.Errorf("per-100k chart: %s", got)
	}
	if got := evalString(t, ctx, `document.querySelector("figure.chart ul.legend").textContent`); !strings.Contains(got, "北部县") {
		t.Errorf("legend %q", got)
	}
	if got := evalString(t, ctx, `String(document.querySelectorAll("script").length) + " " + document.querySelector("script").getAttribute("src") + " " + String(document.querySelector("script").textContent.length)`); got != "1 /assets/region.js 0" {
		t.Errorf("scripts %q", got)
	}

	regionScreenshot(t, ctx, "region-page")

	// The export links, fetched as the browser would download them.
	downloads, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Promise.all([...document.querySelectorAll("#exports a[download]")].map(a =>
		fetch(a.href).then(r => r.status + " " + r.headers.get("content-type").split(";")[0] + " " + r.headers.get("content-disposition").replace(/-\d{8}T\d{4}Z/, "")))).then(l => l.join("\n"))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	const csvType, xlsxType = "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	want := strings.Join([]string{
		"200 " + csvType + ` attachment; filename="icu-R01-districts.csv"`,
		"200 " + xlsxType + ` attachment; filename="icu-R01-districts.xlsx"`,
		"200 " + csvType + ` attachment; filename="icu-R01-hospitals.csv"`,
		"200 " + xlsxType + ` attachment; filename="icu-R01-hospitals.xlsx"`,
		"200 " + csvType + ` attachment; filename="icu-R01-not-reporting.csv"`,
		"200 " + xlsxType + ` attachment; filename="icu-R01-not-reporting.xlsx"`,
		"200 " + xlsxType + ` attachment; filename="icu-R01-all.xlsx"`,
	}, "\n")
	if downloads != want {
		t.Errorf("export links:\n%s\nwant\n%s", downloads, want)
	}
}

// Without InfluxDB the page still renders its tables, and each chart
// says why it is missing instead of failing.
func TestRegionPageWithoutHistoryInChromium(t *testing.T) {
	browsertest.Path(t)
	now := time.Now().UTC()
	hr := newHistoryRegion(t, nil, now)
	hr.feed(t, now, 0)
	ctx, url := regionPage(t, hr.r.Handler())
	if _, err := chromedp.Run(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("figure.chart")].every(f => f.dataset.state)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatal(err)
	}
	if got := evalString(t, ctx, `[...document.querySelectorAll("figure.chart")].map(f => f.dataset.state + ":" + f.querySelector(".note").textContent).join(" | ")`); !strings.Contains(got, "unavailable:No chart: no history") {
		t.Errorf("charts %q", got)
	}
}
