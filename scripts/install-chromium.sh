#!/usr/bin/env bash
# install-chromium.sh — make sure headless Chromium is installed for the
# dashboard's browser tests (api/browser_test.go, driven by chromedp).
#
# Idempotent: installs only what is missing, with apt-get (through sudo
# when not root):
#   chromium            the browser (/usr/bin/chromium)
#   fonts-wqy-microhei  a small CJK font (1.6 MB), so that the dashboard's
#                       Chinese labels render in headless screenshots
# The tests start Chromium themselves (headless, fresh profile, no network
# services) and stop it; nothing here starts a browser or a service.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ! dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "install ok installed"; then
	missing+=(fonts-wqy-microhei)
fi

if [ ${#missing[@]} -eq 0 ]; then
	echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-chromium: not root and sudo missing; run as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y "${missing[@]}"

if [ -x /usr/bin/chromium ]; then
	echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
else
	echo "install-chromium: apt-get finished but /usr/bin/chromium is missing" >&2
	exit 1
fi
