#!/usr/bin/env bash
# Installs Debian's chromium for the headless browser test (tests/ui/test_local_stack.py).
# CI runs this before `make test`; locally the test skips when chromium is absent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    chromium --version
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
chromium --version
