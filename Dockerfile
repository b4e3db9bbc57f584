FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt package.json package-lock.json ./
RUN pip install --no-cache-dir -r requirements.txt && npm ci --no-audit --no-fund
COPY . .
# pip installed into the image's own Python: no venv here (.venv and node_modules
# stay out of the build context: .dockerignore).
ENV PYTHONUNBUFFERED=1
# staticfiles/ holds what a proxy serves when SERVE_STATIC=false (with it true the web
# process serves the same files straight from the apps and node_modules). The bytecode is
# compiled here because the processes cannot write beside the code.
RUN python manage.py collectstatic --noinput && python -m compileall -q .
# The processes run as csbot, not root, and can write only its home: beat's schedule
# (docker-compose.yml) and, on the embedded default, the SQLite file. The code stays
# root's, so a compromised process cannot change what the next one runs. The uid is
# numeric in USER so that Kubernetes' runAsNonRoot can verify it. PYTHONNOUSERSITE: a
# package dropped in that home (~/.local) must not be imported by the next process.
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/csbot --create-home csbot
ENV SQLITE_PATH=/var/lib/csbot/db.sqlite3 PYTHONNOUSERSITE=1
USER 10001:10001
EXPOSE 8000
CMD ["python", "-m", "csbot.serve", "-b", "0.0.0.0", "-p", "8000", "csbot.asgi:application"]
