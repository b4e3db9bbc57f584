#!/usr/bin/env bash
# Installs csbot and runs it on the embedded default (SQLite, in-memory channel
# layer, Celery eager, offline LLM) unless DATABASE_URL / REDIS_URL / LLM_PROVIDER
# say otherwise. HOST and PORT choose where it listens (default 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
PY=.venv/bin/python
$PY manage.py migrate --noinput
$PY manage.py demo_setup
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
echo
echo "csbot is running:  http://$HOST:$PORT/        (player chat)"
echo "                   http://$HOST:$PORT/staff/  (agent: agent / agent-demo-2026, manager: manager / manager-demo-2026)"
echo
exec .venv/bin/daphne -b "$HOST" -p "$PORT" csbot.asgi:application
