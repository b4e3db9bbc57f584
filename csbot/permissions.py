"""Data migrations that give a group an app's admin permissions."""

from __future__ import annotations


def app_permissions(apps, app_label: str, codenames: list[str]):
    """The app's Permission rows of these codenames (historical models), created first if need be.

    Django creates permissions after migrate (post_migrate), so a migration that grants
    them on a new database must create them itself.
    """
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config(app_label)
    historical = getattr(config, "models_module", None) is None
    if historical:
        config.models_module = True  # historical app configs have none, which would skip them
    create_permissions(config, verbosity=0, apps=apps)
    if historical:
        config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
