package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// SetMaintenance marks a device in or out of maintenance on behalf of by.
// The flag is stored before it is applied, so it survives a restart;
// an unknown device is an error that changes nothing.
func (g *Gateway) SetMaintenance(ctx context.Context, device string, on bool, by string) error {
	if deviceByID(g.Site(), device) == nil {
		return fmt.Errorf("device %q: %w", device, pipeline.ErrUnknown)
	}
	var err error
	if derr := g.do(ctx, func(e *pipeline.Engine) {
		err = e.SetMaintenance(device, on, g.now(), by)
		if err == nil {
			err = g.store.SetMaintenance(device, MaintenanceFlag{On: on, By: by, At: g.now()})
		}
	}); derr != nil {
		return derr
	}
	return err
}

// Move assigns a device to a bed or pool on behalf of by, and stores the
// assignment so it survives a restart.
func (g *Gateway) Move(ctx context.Context, device, to, by string) error {
	if deviceByID(g.Site(), device) == nil {
		return fmt.Errorf("device %q: %w", device, pipeline.ErrUnknown)
	}
	var err error
	if derr := g.do(ctx, func(e *pipeline.Engine) {
		err = e.Move(device, to, g.now(), by)
		if err == nil {
			err = g.store.SetAssignment(device, Assignment{At: to, By: by, Time: g.now()})
		}
	}); derr != nil {
		return derr
	}
	return err
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
	if g.drivers != nil {
		if err := g.drivers.apply(site); err != nil {
			g.log.Error("reload: restarting drivers", "err", err)
			return err
		}
	}
	g.m.reloads.WithLabelValues("applied").Inc()
	g.log.Info("config reloaded", "file", g.opts.SitePath, "summary", site.Summary())
	return nil
}
