package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/store"
)

// storeWithin bounds how long a mutating call waits for the state store to
// confirm a change before it answers 503: a full or failing disk must not
// hang the API.
const storeWithin = 5 * time.Second

// SetMaintenance marks a device in or out of maintenance on behalf of by.
// The flag is stored before it is applied, so it survives a restart; an
// unknown device is an error that changes nothing, and so is a state store
// that cannot save it (wrapping api.ErrUnavailable).
func (g *Gateway) SetMaintenance(ctx context.Context, device string, on bool, by string) error {
	return g.SetWorkOrder(ctx, device, api.MaintenanceRequest{On: on}, by)
}

// SetWorkOrder is SetMaintenance with a work order's details (reason,
// ticket, expected return), kept with the flag and in the device's
// work-order history. Setting it again while the device is in maintenance
// updates the open work order.
func (g *Gateway) SetWorkOrder(ctx context.Context, device string, req api.MaintenanceRequest, by string) error {
	if deviceByID(g.Site(), device) == nil {
		return fmt.Errorf("device %q: %w", device, pipeline.ErrUnknown)
	}
	now := g.now()
	return g.storeThenApply(ctx, "maintenance flag",
		func() error {
			return g.store.SetMaintenance(device, store.MaintenanceFlag{On: req.On, By: by, At: now,
				Reason: req.Reason, Ticket: req.Ticket, ExpectedReturn: req.ExpectedReturn})
		},
		func(e *pipeline.Engine) error { return e.SetMaintenance(device, req.On, now, by) })
}

// Move assigns a device to a bed or pool on behalf of by, and stores the
// assignment so it survives a restart.
func (g *Gateway) Move(ctx context.Context, device, to, by string) error {
	site := g.Site()
	if deviceByID(site, device) == nil {
		return fmt.Errorf("device %q: %w", device, pipeline.ErrUnknown)
	}
	if !site.HasPlace(to) {
		return fmt.Errorf("move device %s to %q: no such bed or pool: %w", device, to, pipeline.ErrUnknown)
	}
	return g.storeThenApply(ctx, "assignment",
		func() error { return g.store.SetAssignment(device, store.Assignment{At: to, By: by, Time: g.now()}) },
		func(e *pipeline.Engine) error { return e.Move(device, to, g.now(), by) })
}

// storeThenApply saves a change in the state store and then applies it to
// the engine, answering within storeWithin. The store comes first so that
// what the engine shows survives a restart. When the store fails, nothing
// changes; when it is too slow, the caller is told so, and the change is
// applied if and when the store confirms it (engine and store never
// disagree).
func (g *Gateway) storeThenApply(ctx context.Context, what string, save func() error, apply func(*pipeline.Engine) error) error {
	type result struct{ stored, applied error }
	done := make(chan result, 1)
	go func() {
		if err := save(); err != nil {
			g.health.set("state store", fmt.Sprintf("cannot save changes (%v)", err))
			done <- result{stored: err}
			return
		}
		g.health.set("state store", "")
		var aerr error
		if derr := g.do(context.WithoutCancel(ctx), func(e *pipeline.Engine) { aerr = apply(e) }); derr != nil {
			aerr = derr
		}
		done <- result{applied: aerr}
	}()
	timer := time.NewTimer(storeWithin)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.stored != nil {
			return fmt.Errorf("%w: the %s was not saved, so nothing changed: %v", api.ErrUnavailable, what, r.stored)
		}
		return r.applied
	case <-timer.C:
		return fmt.Errorf("%w: the state store did not confirm the %s within %s (is its disk full or slow?); it takes effect only once the store confirms it", api.ErrUnavailable, what, storeWithin)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrReloadRejected wraps the problems of a config that failed its check;
// the running config stays in force.
var ErrReloadRejected = errors.New("new config rejected; the running config stays in force")

// Reload reads the site file again. If it fails its check, nothing changes
// and the problems are returned (wrapping ErrReloadRejected). If it passes,
// the engine is reconfigured keeping every device's state, history and
// usage, and only the driver groups whose configuration changed restart.
func (g *Gateway) Reload(ctx context.Context) error {
	site, err := config.Load(g.opts.SitePath)
	if err != nil {
		g.m.reloads.WithLabelValues("rejected").Inc()
		g.log.Error("reload rejected", "file", g.opts.SitePath, "err", err)
		return fmt.Errorf("%w:\n%v", ErrReloadRejected, err)
	}
	// The http block is checked before anything changes: a token file or
	// certificate that cannot be used rejects the reload as a whole.
	if _, err := apiAccess(site, os.Getenv); err != nil {
		g.m.reloads.WithLabelValues("rejected").Inc()
		return fmt.Errorf("%w:\n%v", ErrReloadRejected, err)
	}
	if site.HTTP.TLS != nil && g.cert.Load() != nil {
		if _, err := loadServingCert(site.HTTP.TLS, g); err != nil {
			g.m.reloads.WithLabelValues("rejected").Inc()
			return fmt.Errorf("%w:\n%v", ErrReloadRejected, err)
		}
	}
	old := g.Site()
	var rerr error
	if derr := g.do(ctx, func(e *pipeline.Engine) {
		rerr = e.Reconfigure(site, g.now())
		if rerr == nil {
			g.siteMu.Lock()
			g.site = site
			g.siteMu.Unlock()
		}
	}); derr != nil {
		return derr
	}
	if rerr != nil {
		g.m.reloads.WithLabelValues("rejected").Inc()
		return fmt.Errorf("%w: %v", ErrReloadRejected, rerr)
	}
	if err := g.reloadHTTP(old, site); err != nil {
		g.log.Error("reload: http access", "err", err)
		return err
	}
	if g.drivers != nil {
		if err := g.drivers.apply(site); err != nil {
			g.log.Error("reload: restarting drivers", "err", err)
			return err
		}
	}
	if am := g.alerts.Load(); am != nil {
		am.Configure(site)
	}
	g.m.reloads.WithLabelValues("applied").Inc()
	g.log.Info("config reloaded", "file", g.opts.SitePath, "summary", site.Summary())
	return nil
}
