package inventory

import (
	"testing"
)

// BenchmarkImport10000 is a whole import of a 10,000-row export: decode,
// parse, check every row, render the devices file, check it with the site
// (config.LoadWithDeviceFile, the same as icugate check), diff against the
// current devices and write it atomically with a backup.
func BenchmarkImport10000(b *testing.B) {
	site := writeTestSite(b, nil, "devices: []\n")
	data := []byte(generatedCSV(10000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		plan, err := Prepare(Import{Site: site, Source: "devices.csv", Data: data, Now: testNow})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := plan.Write(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadTable10000 is the CSV reading alone.
func BenchmarkReadTable10000(b *testing.B) {
	data := []byte(generatedCSV(10000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ps := ReadTable("devices.csv", data, EncodingAuto, DefaultMapping()); len(ps) > 0 {
			b.Fatal(ps)
		}
	}
}
