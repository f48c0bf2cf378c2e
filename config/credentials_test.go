package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// credentialsSite names two secrets by $CREDENTIALS_DIRECTORY, in both
// spellings.
const credentialsSite = minimalSite + `mqtt:
  broker: tcp://127.0.0.1:1883
  password_file: $CREDENTIALS_DIRECTORY/mqtt-password
influxdb:
  url: http://127.0.0.1:8086
  bucket: icugate/autogen
  token_file: ${CREDENTIALS_DIRECTORY}/influxdb-token
`

// TestCredentialsDirectory checks that a *_file beginning with
// $CREDENTIALS_DIRECTORY/ names a file in the directory systemd (or a
// container) gives, under its own name or under the name the icugate unit
// gives it (icugate_NAME), and that `icugate check` says what to do when a
// secret is missing or the variable unset. Not parallel: it sets the
// environment.
func TestCredentialsDirectory(t *testing.T) {
	path := writeSite(t, credentialsSite, nil)
	for _, row := range []struct {
		name  string
		files []string // written 0600 in the credentials directory
		want  []string // the files the site's two secrets resolve to
		probs []string // what CheckFiles says, in order
	}{
		{
			name:  "own names (a container's /run/secrets, a desk check)",
			files: []string{"mqtt-password", "influxdb-token"},
			want:  []string{"mqtt-password", "influxdb-token"},
		},
		{
			name:  "names of the unit's LoadCredential=icugate:/etc/icugate/credentials",
			files: []string{"icugate_mqtt-password", "icugate_influxdb-token"},
			want:  []string{"icugate_mqtt-password", "icugate_influxdb-token"},
		},
		{
			name:  "own name first",
			files: []string{"mqtt-password", "icugate_mqtt-password", "icugate_influxdb-token"},
			want:  []string{"mqtt-password", "icugate_influxdb-token"},
		},
		{
			name:  "a secret missing",
			files: []string{"icugate_mqtt-password"},
			want:  []string{"icugate_mqtt-password", "influxdb-token"},
			probs: []string{"influxdb.token_file: no credential influxdb-token in $CREDENTIALS_DIRECTORY: put the file influxdb-token in the directory the service loads (the icugate unit: /etc/icugate/credentials, mode 0600) and restart it"},
		},
	} {
		t.Run(row.name, func(t *testing.T) {
			creds := t.TempDir()
			for _, f := range row.files {
				secret(t, creds, f, "s3cret\n")
			}
			t.Setenv(CredentialsVar, creds)
			s, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got, want := s.MQTT.PasswordFile, filepath.Join(creds, row.want[0]); got != want {
				t.Errorf("mqtt.password_file = %s, want %s", got, want)
			}
			if got, want := s.InfluxDB.TokenFile, filepath.Join(creds, row.want[1]); got != want {
				t.Errorf("influxdb.token_file = %s, want %s", got, want)
			}
			got := CheckFiles(s, nil)
			if len(got) != len(row.probs) {
				t.Fatalf("CheckFiles: got %d problems, want %d:\n%s", len(got), len(row.probs), problemLines(got))
			}
			for i, p := range got {
				if p.Message != row.probs[i] {
					t.Errorf("problem %d:\n got %s\nwant %s", i, p.Message, row.probs[i])
				}
			}
		})
	}

	t.Run("unset", func(t *testing.T) {
		t.Setenv(CredentialsVar, "")
		s, err := Load(path)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if s.MQTT.PasswordFile != "$CREDENTIALS_DIRECTORY/mqtt-password" {
			t.Errorf("mqtt.password_file = %s, want it as written", s.MQTT.PasswordFile)
		}
		got := CheckFiles(s, nil)
		if len(got) != 2 {
			t.Fatalf("got %d problems, want 2:\n%s", len(got), problemLines(got))
		}
		for _, p := range got {
			if !strings.Contains(p.Message, "which is not set") || !strings.Contains(p.Message, "CREDENTIALS_DIRECTORY=/etc/icugate/credentials") {
				t.Errorf("problem %s: want it to say how to set $CREDENTIALS_DIRECTORY", p)
			}
		}
	})
}

func TestCredentialPath(t *testing.T) {
	t.Setenv(CredentialsVar, "/run/credentials/icugate.service")
	for _, row := range []struct {
		in, want string
		named    bool
	}{
		{"$CREDENTIALS_DIRECTORY/api-tokens", "/run/credentials/icugate.service/api-tokens", true},
		{"${CREDENTIALS_DIRECTORY}/report-key", "/run/credentials/icugate.service/report-key", true},
		{"/etc/icugate/report.key", "/etc/icugate/report.key", false},
		{"secrets/$CREDENTIALS_DIRECTORY/x", "secrets/$CREDENTIALS_DIRECTORY/x", false},
		{"$CREDENTIALS_DIRECTORYX/x", "$CREDENTIALS_DIRECTORYX/x", false},
		{"", "", false},
	} {
		got, named := credentialPath(row.in)
		if got != row.want || named != row.named {
			t.Errorf("credentialPath(%q) = %q, %v; want %q, %v", row.in, got, named, row.want, row.named)
		}
	}
}
