# Three stages. `base`: csbot's Python packages, pip-installed into the image's own
# Python (no venv here). `build`: adds Node.js, npm and gettext to install the front-end
# libraries, compile the translations and collect the static files. The final image is
# `base` again with the code and build's output: no Node.js, npm or gettext at run
# time, and of node_modules only the files the pages load.
FROM python:3.11-slim AS base
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
ENV PYTHONUNBUFFERED=1

FROM base AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm gettext && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# collectstatic takes of node_modules only the files the pages load (csbot/vendor.py), and
# writes each file also under its content's hash, which the pages link (csbot/static_files.py).
RUN python manage.py compilemessages && python manage.py collectstatic --noinput

FROM base
# .venv and node_modules stay out of the build context (.dockerignore).
COPY . .
COPY --from=build /app/locale /app/locale
# staticfiles/ holds what the web process serves (SERVE_STATIC), its manifest there, or a
# proxy when SERVE_STATIC=false. node_modules here holds just the vendor files collected
# (csbot/vendor.py finds them at the same paths, and its check finds them there).
COPY --from=build /app/staticfiles /app/staticfiles
COPY --from=build /app/staticfiles/vendor /app/node_modules
# The bytecode is compiled here because the processes cannot write beside the code.
RUN python -m compileall -q .
# The processes run as csbot, not root, and can write only its home: beat's schedule
# (CELERY_BEAT_SCHEDULE_FILENAME) and, on the embedded default, the SQLite file. The code stays
# root's, so a compromised process cannot change what the next one runs. The uid is
# numeric in USER so that Kubernetes' runAsNonRoot can verify it. PYTHONNOUSERSITE: a
# package dropped in that home (~/.local) must not be imported by the next process.
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/csbot --create-home csbot
ENV SQLITE_PATH=/var/lib/csbot/db.sqlite3 CELERY_BEAT_SCHEDULE_FILENAME=/var/lib/csbot/celerybeat-schedule PYTHONNOUSERSITE=1
USER 10001:10001
EXPOSE 8000
CMD ["python", "-m", "csbot.serve", "-b", "0.0.0.0", "-p", "8000", "csbot.asgi:application"]
