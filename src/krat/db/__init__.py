"""The metadata database: the only package that contains SQL.

SQLite in WAL mode; every state change is a transaction; names are unique by
constraint. Migrations are numbered .sql files applied once each, in name order.
Imports only the standard library, oci and errors.
"""

from krat.db.connection import Database, open_database

__all__ = ["Database", "open_database"]
