"""The three role groups; accounts that existed before roles keep acting (handler)."""

from django.conf import settings
from django.db import migrations

ROLES = ("viewer", "handler", "admin")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
    # Before roles every account could act; keep that for the accounts that
    # exist (superusers are admins anyway).
    handler = groups["handler"]
    for user in User.objects.filter(is_superuser=False).exclude(groups__name__in=ROLES):
        user.groups.add(handler)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0002_token_role_revoked"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
