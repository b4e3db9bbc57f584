#!/usr/bin/env bash
# Installs csbot with its test tools and runs the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh tests/chat -k resume
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh dev
exec .venv/bin/python -m pytest "$@"
