package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/icugate/icugate/internal/browsertest"
)

// TestDashboardFollowsIcusim loads the dashboard of a running gateway in
// headless Chromium, changes a device through icusim's API and waits for
// its bed tile to change without a reload, then puts a device into
// maintenance through the UI and checks the API reflects it. Screenshots
// of the ward view and a device page are kept as artifacts.
func TestDashboardFollowsIcusim(t *testing.T) {
	if skipShort() {
		t.Skip("end-to-end test of separate processes (-short; never skipped under CI=true)")
	}
	browsertest.Path(t) // fail or skip before starting servers
	e := setup(t)
	e.waitCapacity("counts verified", 60*time.Second, func(c capacity) bool {
		return c.Hospital.Verified && c.Hospital.BedsEquipped > 0
	})
	ctx := browsertest.New(t, 90*time.Second)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	tile := func(bed, state string) string {
		return fmt.Sprintf(`li.bed[data-bed=%q][data-state=%q]`, bed, state)
	}
	run("open the ward view",
		chromedp.Navigate(e.api+"/"),
		chromedp.WaitVisible(chromedp.CSS(tile("gicu-05", "available"))),
	)
	// Mark the page so a reload would be noticed.
	run("mark page", chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))

	if code, body := call(t, "PUT", e.sim+"/devices/gicu-05-vent/state", "", `{"state":"fault"}`); code >= 300 {
		t.Fatalf("icusim: %d %s", code, body)
	}
	run("tile degrades live after the simulated fault",
		chromedp.WaitVisible(chromedp.CSS(tile("gicu-05", "degraded"))),
	)
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`)); err != nil || !v {
		t.Errorf("the page reloaded (marker %v, %v); updates must arrive live", v, err)
	}
	shot(t, ctx, "e2e-ward-view")

	// Maintenance through the UI, with the API token.
	run("put gicu-06-vent into maintenance",
		chromedp.Navigate(e.api+"/#/device/gicu-06-vent"),
		chromedp.WaitVisible(chromedp.CSS(`#maint-btn[aria-pressed="false"]`)),
		chromedp.Click(chromedp.CSS(`#maint-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#maint-dialog[open]`)),
		chromedp.SendKeys(chromedp.CSS(`#maint-reason`), "e2e work order"),
		chromedp.Click(chromedp.CSS(`#maint-ok`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-dialog[open]`)),
		chromedp.SendKeys(chromedp.CSS(`#token-input`), apiToken),
		chromedp.Click(chromedp.CSS(`#token-ok`)),
		chromedp.WaitVisible(chromedp.CSS(`#maint-btn[aria-pressed="true"]`)),
	)
	var dev struct {
		State         string `json:"state"`
		MaintenanceBy string `json:"maintenance_by"`
	}
	if err := e.getJSON(e.api+"/api/v1/devices/gicu-06-vent", &dev); err != nil {
		t.Fatal(err)
	}
	if dev.State != "maintenance" || dev.MaintenanceBy != "e2e" {
		t.Errorf("API after maintenance through the UI: state %q by %q; want maintenance by e2e", dev.State, dev.MaintenanceBy)
	}
	shot(t, ctx, "e2e-device-page")
}

// shot saves a full-page screenshot under $ICUGATE_ARTIFACTS/dashboard.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("ICUGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "icugate-artifacts")
	}
	dir = filepath.Join(dir, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
