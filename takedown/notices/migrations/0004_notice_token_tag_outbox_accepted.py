# Notices already out keep their token: the column is added empty for them, and
# only notices created afterwards get a random tag (the AlterField changes the
# model default only; it does not touch existing rows).

import takedown.notices.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("notices", "0003_answer_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="token_tag",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AlterField(
            model_name="notice",
            name="token_tag",
            field=models.CharField(
                blank=True, default=takedown.notices.models.new_token_tag, max_length=16
            ),
        ),
        migrations.AddField(
            model_name="outboxmessage",
            name="accepted",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
