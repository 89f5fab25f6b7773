"""Pydantic models of every OCPI 2.2.1 object, one module per OCPI module."""
