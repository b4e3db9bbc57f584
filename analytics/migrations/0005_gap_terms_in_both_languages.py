"""The active knowledge-gap groups take their terms in the vocabulary both languages now share
(analytics/services/gap_words.py): an English group keeping its English terms would take
neither the Chinese twin of its question nor its own next English asker.

Only a label with English words needs cutting again, with jieba (about a second and 100 MB
to load, in the release step that runs migrate): a group without one keeps the terms tokenize
gave its label (the same for the same text while TOKENIZER_VERSION stands), less the words that
only ask, which is what cutting it again gives. Without active groups nothing is loaded.

It calls today's analytics.services.gap_words (a vocabulary, not a schema): should that module
move, point the import at its new place; should it go, this can become a no-op."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

# gaps.ACTIVE_FOR, as it stands today: older groups take no new questions, so their terms are read by nobody.
ACTIVE_FOR = timedelta(days=90)
# GapCluster.label's max_length: a label this long may be cut from a longer first question, whose terms
# the group has; cut again from the label, as before.
LABEL_MAX = 500


def reterm_active_groups(apps, schema_editor):
    GapCluster = apps.get_model("analytics", "GapCluster")
    active = GapCluster.objects.filter(last_seen__gte=timezone.now() - ACTIVE_FOR).only("label", "terms")
    if not active.exists():
        return
    from analytics.services.gap_words import ASKING, has_english_words, question_terms

    changed = []
    for group in active.iterator(chunk_size=2000):
        if has_english_words(group.label) or len(group.label) >= LABEL_MAX:
            terms = question_terms(group.label)
        else:
            terms = sorted(set(group.terms) - ASKING)
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
