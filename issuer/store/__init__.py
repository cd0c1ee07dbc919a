"""Persistence: SQLAlchemy models and the verbs that own each table.

SQL lives here and only here; the protocol core calls verbs such as
`families.consume(jti)` or `denylist.add(jti, until)`.
"""
