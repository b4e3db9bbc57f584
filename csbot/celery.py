import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")

app = Celery("csbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _log_as_the_web_processes_do(**_kwargs) -> None:
    """The worker and beat log like every csbot process: settings.LOGGING, at LOG_LEVEL.

    Left to itself Celery sets up its own, at its --loglevel (WARNING unless given): a
    worker started as README says ran its tasks with nothing in its log, not even that it
    was ready, nor beat what it sent, whatever LOG_LEVEL said; and csbot's own lines came
    out in another format, or not at all.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
