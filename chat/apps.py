from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from csbot import https_checks  # noqa: F401  registers its check
        from csbot.deploy_checks import see_subclassed_middleware

        see_subclassed_middleware()
