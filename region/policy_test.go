package region

import (
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// The region judges hospitals' shares with the gateway's targets table
// (pipeline.TierTargetFor); its shares must come out as the gateway's,
// year by year.
func TestTierTargetsMatchTheGateway(t *testing.T) {
	for _, level := range []string{config.LevelTertiary, config.LevelSecondary} {
		for year := 2024; year <= 2030; year++ {
			site := &config.Site{Hospital: config.Hospital{ID: "h", Level: level, TotalBeds: 100, Region: "R01"}, TargetYear: year}
			e, err := pipeline.New(site, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			want := e.Snapshot().Policy
			f := figures{}
			got := f.policy(level, 100, year)
			if got.TargetsYear != want.TargetsYear || got.General.Target != want.General.Target || got.Specialty.Target != want.Specialty.Target ||
				got.Convertible.Target != want.Convertible.Target || got.ICU.Target != want.ICU.Target {
				t.Errorf("%s %d: region %d %v/%v/%v/%v, gateway %d %v/%v/%v/%v", level, year, got.TargetsYear, got.General.Target, got.Specialty.Target, got.Convertible.Target, got.ICU.Target,
					want.TargetsYear, want.General.Target, want.Specialty.Target, want.Convertible.Target, want.ICU.Target)
			}
		}
	}
	if _, ok := tierTargetFor("primary", 2027); ok {
		t.Fatal("an unknown level has targets")
	}
}
