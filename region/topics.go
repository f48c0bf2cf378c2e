package region

import (
	"fmt"
	"strings"

	"github.com/icugate/icugate/report"
)

// Topic kinds: the last level of a gateway's topics (report.PartTopic,
// report.PresenceTopic).
const (
	kindCapacity = "capacity"
	kindPresence = "gateway"
)

// parseTopic splits a gateway topic of the given kind:
//
//	icu/v1/{region}/{hospital}/{kind}          the hospital's only gateway: part main
//	icu/v1/{region}/{hospital}/{part}/{kind}   one part of a several-gateway hospital
//
// A part topic naming part main is refused: part main publishes on the
// hospital's topic, and one part with two retained topics would keep an
// old report alive on one of them.
func parseTopic(topic, kind string) (region, hospital, part string, err error) {
	p := strings.Split(topic, "/")
	bad := func(why string) (string, string, string, error) {
		return "", "", "", fmt.Errorf("topic %q is not icu/v1/{region}/{hospital}[/{part}]/%s: %s", topic, kind, why)
	}
	if len(p) < 5 || len(p) > 6 || p[0] != "icu" || p[1] != "v1" || p[len(p)-1] != kind {
		return bad("wrong shape")
	}
	if p[2] == "" || p[3] == "" {
		return bad("empty region or hospital")
	}
	if len(p) == 5 {
		return p[2], p[3], report.MainPart, nil
	}
	if err := report.CheckPartID("part", p[4]); err != nil {
		return bad(err.Error())
	}
	if p[4] == report.MainPart {
		return bad("part main publishes on icu/v1/{region}/{hospital}/" + kind)
	}
	return p[2], p[3], p[4], nil
}
