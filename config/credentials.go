package config

import (
	"os"
	"path/filepath"
	"strings"
)

// CredentialsVar names the directory of a service's secrets. systemd sets
// it for a unit with LoadCredential=; the container image sets it to
// /run/secrets, where the secrets are mounted. A *_file path in the site
// may begin with $CREDENTIALS_DIRECTORY/ (or ${CREDENTIALS_DIRECTORY}/),
// so one site file works under systemd, in a container, and for `icugate
// check` at the desk with CREDENTIALS_DIRECTORY=/etc/icugate/credentials.
//
// systemd reads the files once, when the service starts: a reload sees the
// secrets the service started with, and a changed secret needs a restart.
const CredentialsVar = "CREDENTIALS_DIRECTORY"

// UnitCredentialID is the credential ID under which the icugate unit
// (deploy/systemd/icugate.service) loads the whole directory
// /etc/icugate/credentials: LoadCredential=icugate:/etc/icugate/credentials.
// Loading a directory is what lets a secret the site does not use be
// absent (a LoadCredential= of a missing file fails the start), and
// systemd names each file of it ID_FILE, so the file mqtt-password is the
// credential icugate_mqtt-password.
const UnitCredentialID = "icugate"

// credentialPath expands a path that begins with $CREDENTIALS_DIRECTORY/
// and reports whether it does. $CREDENTIALS_DIRECTORY/NAME is the file
// NAME there or, when only that exists, icugate_NAME: the name the file
// NAME of /etc/icugate/credentials takes when the unit loads it (a file
// in a subdirectory, sub/NAME, is icugate_sub_NAME). With the variable
// unset the path stays as written, so CheckFiles can say what is missing
// and the gateway fails to open it rather than reading some other file.
func credentialPath(p string) (string, bool) {
	for _, prefix := range []string{"$" + CredentialsVar + "/", "${" + CredentialsVar + "}/"} {
		name, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		dir := os.Getenv(CredentialsVar)
		if dir == "" {
			return p, true
		}
		plain := filepath.Join(dir, name)
		unit := filepath.Join(dir, UnitCredentialID+"_"+strings.ReplaceAll(name, "/", "_"))
		if !fileExists(plain) && fileExists(unit) {
			return unit, true
		}
		return plain, true
	}
	return p, false
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// unsetCredentialPath reports whether p still names $CREDENTIALS_DIRECTORY,
// which happens when the variable was unset as the site was loaded.
func unsetCredentialPath(p string) bool {
	return strings.HasPrefix(p, "$"+CredentialsVar) || strings.HasPrefix(p, "${"+CredentialsVar+"}")
}

// inCredentialsDirectory reports whether p is a file of the credentials
// directory of this process, for a hint where to put a missing secret.
func inCredentialsDirectory(p string) bool {
	dir := os.Getenv(CredentialsVar)
	return dir != "" && filepath.Dir(p) == filepath.Clean(dir)
}
