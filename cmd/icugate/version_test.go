package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPrintVersion(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name    string
		version string
		info    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{
			name:    "ldflags version and VCS info",
			version: "v1.2.3",
			info: func() (*debug.BuildInfo, bool) {
				return &debug.BuildInfo{GoVersion: "go1.26.8", Settings: []debug.BuildSetting{
					{Key: "vcs.revision", Value: "124cdb7abc"},
					{Key: "vcs.time", Value: "2026-11-25T15:00:00Z"},
					{Key: "vcs.modified", Value: "true"},
				}}, true
			},
			want: "icugate v1.2.3\ncommit 124cdb7abc (2026-11-25T15:00:00Z) modified\ngo1.26.8 " + platform + "\n",
		},
		{
			name:    "go install records the module version",
			version: "dev",
			info: func() (*debug.BuildInfo, bool) {
				return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}}, true
			},
			want: "icugate v0.4.0\ncommit unknown (built without VCS information)\ngo1.26.8 " + platform + "\n",
		},
		{
			name:    "no build info",
			version: "dev",
			info:    func() (*debug.BuildInfo, bool) { return nil, false },
			want:    "icugate dev\ncommit unknown (built without VCS information)\n" + runtime.Version() + " " + platform + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printVersion(&b, tt.version, tt.info)
			if b.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}
