"""How large an integer from outside may be: what the database holds.

Ids are ``sa.Integer`` columns: INTEGER (32 bits) on PostgreSQL, 64 bits on SQLite; the smaller
one rules, so that the hub answers the same on both. OFFSET and LIMIT of a query are 64-bit on
both. A value beyond these can name nothing the hub stores; it is refused as bad input (422 on the
admin API, 2001 on OCPI) before it reaches a query, where it would be a driver error (a 500).
"""

from __future__ import annotations

# Largest id of a row (sa.Integer on PostgreSQL).
DB_ID_MAX = 2**31 - 1
# Largest OFFSET/LIMIT a query takes (BIGINT).
DB_BIGINT_MAX = 2**63 - 1
