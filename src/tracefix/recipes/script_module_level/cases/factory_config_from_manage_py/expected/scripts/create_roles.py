#!/usr/bin/env python
"""Create the default roles.

Run it from the project root: python scripts/create_roles.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app import create_app, db  # noqa: E402
from app.models import Role  # noqa: E402

ROLES = ("User", "Moderator", "Administrator")

app = create_app(os.getenv("FLASK_CONFIG") or "default")

with app.app_context():
    # Tables may not exist yet on a fresh checkout.
    db.create_all()

    for name in ROLES:
        # Skip the roles that are already there.
        if db.session.scalar(db.select(Role).filter_by(name=name)) is None:
            db.session.add(Role(name=name))

    db.session.commit()
    print(f"{len(ROLES)} roles ready")  # one line per run
