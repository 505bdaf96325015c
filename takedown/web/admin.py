from django.contrib import admin
from django.contrib.auth.models import Group, User

# Users, their roles (groups) and API tokens are managed on the Users page
# (takedown/web/users.py), through services that check the role and write the
# audit trail; Django's own pages for them would bypass both.
admin.site.unregister(User)
admin.site.unregister(Group)
