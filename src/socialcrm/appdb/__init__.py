"""The app database: users, roles, API tokens and the audit log (SQLAlchemy 2 + Alembic).

The warehouse holds analytical facts; this database holds the operational, multi-user
state that needs transactions. SQLite (WAL) by default, PostgreSQL in production.
"""

from socialcrm.appdb.db import AppDB, migrate
from socialcrm.appdb.models import ROLES, ApiToken, AuditEntry, User

__all__ = ["ROLES", "ApiToken", "AppDB", "AuditEntry", "User", "migrate"]
