"""The active knowledge-gap groups take their terms in the vocabulary both languages now share
(analytics/services/gap_words.py): an English group keeping its English terms would take
neither the Chinese twin of its question nor its own next English asker.

It calls today's analytics.services.gap_words (a vocabulary, not a schema): should that module
move, point the import at its new place; should it go, this can become a no-op."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

# gaps.ACTIVE_FOR, as it stands today: older groups take no new questions, so their terms are read by nobody.
ACTIVE_FOR = timedelta(days=90)


def reterm_active_groups(apps, schema_editor):
    from analytics.services.gap_words import question_terms

    GapCluster = apps.get_model("analytics", "GapCluster")
    active = GapCluster.objects.filter(last_seen__gte=timezone.now() - ACTIVE_FOR).only("label", "terms")
    changed = []
    for group in active.iterator(chunk_size=2000):
        terms = question_terms(group.label)
        if terms != group.terms:
            group.terms = terms
            changed.append(group)
    GapCluster.objects.bulk_update(changed, ["terms"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_alert_kind_labels"),
    ]

    operations = [
        migrations.RunPython(reterm_active_groups, migrations.RunPython.noop),
    ]
