"""Alembic migrations. Run them with `spets setup` or `alembic -c development.ini upgrade head`."""
