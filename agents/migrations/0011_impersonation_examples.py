"""The demo's account security learns that someone posing as support is a scam to warn of.

"有人冒充客服找我要验证码" was read as a request for a person (its 客服) and handed to
the queue, unanswered; the help center's phishing section says staff never ask for
a password or a code. Only a brain with the demo's account_security gets the two
examples, once; a manager's own stay as they are.
"""

from django.db import migrations

ADDED = ["有人自称官方客服找我要密码", "someone pretending to be support asked for my verification code"]


def forwards(apps, schema_editor):
    security = apps.get_model("agents", "Intent").objects.filter(name="account_security").first()
    if security is None:
        return
    kept = security.examples.splitlines()
    security.examples = "\n".join(kept + [line for line in ADDED if line not in kept])
    security.save(update_fields=["examples"])


def backwards(apps, schema_editor):
    security = apps.get_model("agents", "Intent").objects.filter(name="account_security").first()
    if security is not None:
        security.examples = "\n".join(line for line in security.examples.splitlines() if line not in ADDED)
        security.save(update_fields=["examples"])


class Migration(migrations.Migration):
    dependencies = [("agents", "0010_hacked_account_intent")]

    operations = [migrations.RunPython(forwards, backwards)]
