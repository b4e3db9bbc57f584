FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt package.json package-lock.json ./
RUN pip install --no-cache-dir -r requirements.txt && npm ci --no-audit --no-fund
COPY . .
# pip installed into the image's own Python: no venv here (.venv and node_modules
# stay out of the build context: .dockerignore).
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["python", "-m", "csbot.serve", "-b", "0.0.0.0", "-p", "8000", "csbot.asgi:application"]
