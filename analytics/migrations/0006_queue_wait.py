"""How long chats waited in the queue, and the chats a human was asked for that nobody took.

The chats nobody took count under the agent key "" from now on (aggregation._dimensions). The
closed ones already counted get their wait (the escalation to the close: nobody took them) and
their hours recounted by the next aggregate_recent; only those rows are read, a few percent of
the chats. The chats agents took keep no queue wait before this version."""

from django.db import migrations, models
from django.utils import timezone


def untaken_backfill(apps, schema_editor):
    ConversationStats = apps.get_model("analytics", "ConversationStats")
    DirtyHour = apps.get_model("analytics", "DirtyHour")
    untaken = ConversationStats.objects.filter(handed_off=True, agent__isnull=True, escalated_at__isnull=False)
    changed, hours = [], set()
    for row in untaken.only("closed_at", "escalated_at").iterator(chunk_size=2000):
        row.queue_wait_s = max(0.0, (row.closed_at - row.escalated_at).total_seconds())
        changed.append(row)
        hours.add(row.closed_at.replace(minute=0, second=0, microsecond=0))
    ConversationStats.objects.bulk_update(changed, ["queue_wait_s"], batch_size=1000)
    now = timezone.now()
    DirtyHour.objects.bulk_create(
        [DirtyHour(hour=hour, marked_at=now) for hour in sorted(hours)],
        update_conflicts=True,
        unique_fields=["hour"],
        update_fields=["marked_at"],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_gap_terms_in_both_languages"),
    ]

    operations = [
        migrations.AddField(
            model_name="aggregate",
            name="queue_wait_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="aggregate",
            name="queue_wait_sum_s",
            field=models.FloatField(default=0),
        ),
        migrations.AddField(
            model_name="conversationstats",
            name="queue_wait_s",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunPython(untaken_backfill, migrations.RunPython.noop),
    ]
