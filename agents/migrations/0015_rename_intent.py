"""The demo's topic for changing a character's name (agents/demo_brain.py).

"how do i change my name" was taken for account security (its "how do i change my
password"), and the answer quoted the password article; the topic finds the FAQ on the
Name Change Card. It comes before the human handoff's place, and only a brain with the
demo's bug_report gets it, and only one without a rename topic of its own.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from agents.demo_brain import add_intent

    Intent = apps.get_model("agents", "Intent")
    if Intent.objects.filter(name="bug_report").exists() and not Intent.objects.filter(name="rename").exists():
        add_intent(Intent, "rename")


def backwards(apps, schema_editor):
    from agents.demo_brain import remove_intent

    remove_intent(apps.get_model("agents", "Intent"), "rename")


class Migration(migrations.Migration):
    dependencies = [("agents", "0014_login_trading_contact_intents")]

    operations = [migrations.RunPython(forwards, backwards)]
