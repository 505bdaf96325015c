"""Who may do what, below every step of the loop.

Every step's views and admin import these, and ``web`` (the handler UI and the
API) is the top of the tree; so the role checks, the safe ``next`` redirect and
the admin's read-only and audited bases live here, not in ``web``, which would
otherwise be imported by the very apps it sits on (docs/architecture.md).
"""
