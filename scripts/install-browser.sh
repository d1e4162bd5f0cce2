#!/usr/bin/env bash
# Installs Debian's Chromium for the evidence report's browser test (tests/test_report.py).
# Idempotent: does nothing when a Chromium is already on PATH. Needs root (or sudo) for apt-get.
set -euo pipefail

for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "install-browser: $(command -v "$name") is already installed"
        exit 0
    fi
done

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser: need root or sudo to apt-get install chromium" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
command -v chromium >/dev/null
echo "install-browser: installed $(chromium --version 2>/dev/null | head -n 1)"
