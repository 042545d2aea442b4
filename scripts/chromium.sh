#!/usr/bin/env bash
# Installs Debian's chromium (headless browser for the console's end-to-end
# test, internal/server/console_e2e_test.go) when no chromium binary is on
# PATH. Uses sudo only when not root. Prints the binary it found or installed.
set -euo pipefail

find_chromium() {
	local b
	for b in chromium chromium-browser google-chrome-stable google-chrome headless-shell; do
		if command -v "$b" >/dev/null 2>&1; then
			command -v "$b"
			return 0
		fi
	done
	return 1
}

if bin=$(find_chromium); then
	echo "chromium: $bin ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
	exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y --no-install-recommends chromium

bin=$(find_chromium) || {
	echo "chromium.sh: chromium installed but no binary found on PATH" >&2
	exit 1
}
echo "chromium: $bin ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
