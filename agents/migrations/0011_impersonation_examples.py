"""The demo's account security learns that someone posing as support is a scam to warn of.

"有人冒充客服找我要验证码" was read as a request for a person (its 客服) and handed to
the queue, unanswered; the help center's phishing section says staff never ask for
a password or a code. Only a brain with the demo's account_security gets the two
examples, once; a manager's own stay as they are.
"""

from django.db import migrations

ADDED = ["有人自称官方客服找我要密码", "someone pretending to be support asked for my verification code"]


def forwards(apps, schema_editor):
    from agents.demo_brain import add_examples

    add_examples(apps.get_model("agents", "Intent"), "account_security", ADDED)


def backwards(apps, schema_editor):
    from agents.demo_brain import remove_examples

    remove_examples(apps.get_model("agents", "Intent"), "account_security", ADDED)


class Migration(migrations.Migration):
    dependencies = [("agents", "0010_hacked_account_intent")]

    operations = [migrations.RunPython(forwards, backwards)]
