#!/usr/bin/env bash
# Build .venv-olah: olah, a Hugging Face Hub mirror from PyPI, for tests/test_delivery_olah.py
# (a buyer pulling an hf:// channel from a real Hub-compatible server of someone else's).
#
# Its own venv: olah pulls fastapi-utils, which pins psutil<6, older than rerun-sdk (in the
# dev venv) needs. olah runs in its own process anyway. Never fails the build: on any error
# it writes the reason to $VENV/FAILED and the test skips with that reason.
set -uo pipefail
VENV=${1:-.venv-olah}
PYTHON=${2:-python3}
OLAH_VERSION=0.5.4

rm -rf "$VENV"
fail() {
    mkdir -p "$VENV"
    printf '%s\n' "$*" > "$VENV/FAILED"
    touch "$VENV/.installed"
    echo "olah venv not built: $*" >&2
    exit 0
}
log=$("$PYTHON" -m venv "$VENV" 2>&1) || fail "creating the venv failed: $log"
log=$("$VENV/bin/python" -m pip install -q --disable-pip-version-check "olah==$OLAH_VERSION" 2>&1) ||
    fail "pip install olah==$OLAH_VERSION failed: $(printf '%s' "$log" | grep -iE 'error' | head -n 2 | tr '\n' ' ')"
[ -x "$VENV/bin/olah-cli" ] || fail "olah $OLAH_VERSION installed no olah-cli"
command -v git >/dev/null || fail "olah serves git repositories and git is not installed"
touch "$VENV/.installed"
echo "olah venv built ($(du -sh "$VENV" | cut -f1))"
