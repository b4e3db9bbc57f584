import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")

app = Celery("csbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
