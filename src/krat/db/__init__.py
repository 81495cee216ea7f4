"""The metadata database: the only package that contains SQL.

SQLite in WAL mode; every state change is a transaction; names are unique by
constraint. Migrations are numbered .sql files applied once each, in name order.
Imports only the standard library, oci and errors.

`Database` and `open_database` load on first use, so `krat.db.lookup` (krat exec's one
read) does not pay for the sqlite3 package.
"""

__all__ = ["Database", "open_database"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from krat.db import connection

        value = getattr(connection, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'krat.db' has no attribute {name!r}")
