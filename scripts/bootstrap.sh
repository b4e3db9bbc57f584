#!/usr/bin/env bash
# Installs what csbot needs into .venv and node_modules. Safe to run again.
#   scripts/bootstrap.sh        runtime only
#   scripts/bootstrap.sh dev    runtime + test tools (+ Chromium when run as root)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
reqs=requirements.txt
[ "${1:-}" = "dev" ] && reqs=requirements-dev.txt
# Reinstall only when the requirements changed since the last install.
stamp=".venv/.installed-$(cat requirements*.txt | sha1sum | cut -c1-12)-$reqs"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$reqs"
  touch "$stamp"
fi

# Front-end libraries come from npm and are served by csbot itself (no CDN).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  command -v npm >/dev/null || { echo "npm is required (Node.js 18+)" >&2; exit 1; }
  npm ci --no-audit --no-fund --loglevel=error
fi

# The tests need Debian's chromium (the browser tests) and GNU gettext (the check that
# makemessages finds no string the Chinese catalogue lacks).
if [ "${1:-}" = "dev" ]; then
  packages=""
  [ -x /usr/bin/chromium ] || packages="$packages chromium"
  command -v xgettext >/dev/null || packages="$packages gettext"
  if [ -n "$packages" ]; then
    if [ "$(id -u)" = "0" ]; then
      apt-get update -qq && apt-get install -y -qq $packages >/dev/null
    else
      echo "note: the tests need Debian's$packages: sudo apt-get install$packages" >&2
    fi
  fi
fi

# Compiled translations are committed; recompile if msgfmt is around and a .po is newer.
if command -v msgfmt >/dev/null; then
  for po in locale/*/LC_MESSAGES/django.po; do
    [ -f "$po" ] || continue
    mo="${po%.po}.mo"
    [ "$po" -nt "$mo" ] && msgfmt -o "$mo" "$po"
  done
fi
exit 0
