"""What each role may do in the Django admin.

Agents read conversations, messages, players and the audit trail. Managers also
export conversations and set agents' capacity. Superusers can do everything anyway.
"""

from django.db import migrations

AGENT = [
    "view_conversation",
    "view_message",
    "view_player",
    "view_conversationevent",
    "view_agentprofile",
]
MANAGER = [*AGENT, "export_conversation", "change_agentprofile"]


def grant(apps, schema_editor):
    # Permissions are normally created after migrate; create ours now.
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("chat")
    historical = getattr(config, "models_module", None) is None
    if historical:
        config.models_module = True  # historical app configs have none, which would skip them
    create_permissions(config, verbosity=0, apps=apps)
    if historical:
        config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("agent", AGENT), ("manager", MANAGER)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="chat", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("agent", AGENT), ("manager", MANAGER)):
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.remove(*Permission.objects.filter(content_type__app_label="chat", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0004_staff_handoff"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
