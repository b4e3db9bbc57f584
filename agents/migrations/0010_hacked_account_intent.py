"""The demo's hacked-account topic (agents/demo_brain.py), apart from account security.

"我号被盗了" was one of many account-security questions (forgotten passwords, 2FA,
phishing) and collected nothing; a hacked account needs what staff restore it with
(the player ID and server) and a person when the steps don't do. Only a brain still
with the demo's account_security and no account_hacked of its own gets it, and only
the demo's own hacked phrases move over: a manager's examples stay where they are.
"""

from django.db import migrations
from django.db.models import F

MOVED = ["账号被盗了", "有人登录了我的账号", "my account was hacked", "someone logged into my account"]
SEEDED_DESCRIPTION = "Passwords, two-step verification, phishing and hacked accounts."


def forwards(apps, schema_editor):
    from agents.demo_brain import intent_fields

    Intent = apps.get_model("agents", "Intent")
    Fact = apps.get_model("agents", "Fact")
    security = Intent.objects.filter(name="account_security").first()
    if security is None or Intent.objects.filter(name="account_hacked").exists():
        return
    Intent.objects.filter(position__gt=security.position).update(position=F("position") + 1)
    fields = intent_fields("account_hacked")
    hacked = Intent.objects.create(name="account_hacked", position=security.position + 1, **fields)
    hacked.required_facts.set(Fact.objects.filter(name__in=["player_id", "server"]))
    security.examples = "\n".join(line for line in security.examples.splitlines() if line.strip() not in MOVED)
    if security.description == SEEDED_DESCRIPTION:
        security.description = intent_fields("account_security")["description"]
    security.save(update_fields=["examples", "description"])


def backwards(apps, schema_editor):
    Intent = apps.get_model("agents", "Intent")
    hacked = Intent.objects.filter(name="account_hacked").first()
    if hacked is None:
        return
    hacked.delete()
    Intent.objects.filter(position__gt=hacked.position).update(position=F("position") - 1)
    security = Intent.objects.filter(name="account_security").first()
    if security is not None:
        kept = security.examples.splitlines()
        security.examples = "\n".join(kept + [line for line in MOVED if line not in kept])
        security.save(update_fields=["examples"])


class Migration(migrations.Migration):
    dependencies = [("agents", "0009_field_labels")]

    operations = [migrations.RunPython(forwards, backwards)]
