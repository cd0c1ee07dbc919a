"""Persistence: SQLAlchemy models and the verbs that own each table.

Every SQL statement is built here. Other packages open sessions (transactions) to pass to
the verbs and catch SQLAlchemy's error types, but write no query; the protocol core calls
verbs such as `families.rotate(...)` or `denylist.add(jti, until)`.
"""
