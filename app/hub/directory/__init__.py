"""What the hub knows of its parties, cached per instance and checked against a version counter in
the database on every use (see service.py)."""
