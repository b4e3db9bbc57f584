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
# The demo game backend the bot's tools call (order status, bans, mail), unless
# GAME_BACKEND_URL points at a real one. It stops when this script does.
export GAME_BACKEND_AUTH=${GAME_BACKEND_AUTH:-Bearer starfall-demo-backend}
if [ -z "${GAME_BACKEND_URL:-}" ]; then
  BACKEND_PORT=${BACKEND_PORT:-8765}
  export GAME_BACKEND_URL="http://127.0.0.1:$BACKEND_PORT"
  $PY manage.py demo_backend --port "$BACKEND_PORT" &
  BACKEND_PID=$!
  trap 'kill "$BACKEND_PID" 2>/dev/null || true' EXIT
fi
echo
echo "csbot is running:  http://$HOST:$PORT/        (player chat)"
echo "                   http://$HOST:$PORT/staff/  (agent: agent / agent-demo-2026, manager: manager / manager-demo-2026)"
echo "demo game backend: $GAME_BACKEND_URL  (players 10086 and 20002; sign in with a token from chat.identity.make_player_token)"
echo
# daphne on uvloop (csbot/serve.py). Not exec: the EXIT trap must stop the demo
# backend when daphne stops. daphne runs in the background so that a TERM
# (docker stop) reaches it at once.
$PY -m csbot.serve -b "$HOST" -p "$PORT" csbot.asgi:application &
DAPHNE_PID=$!
trap 'kill "$DAPHNE_PID" 2>/dev/null || true' INT TERM
wait "$DAPHNE_PID"
