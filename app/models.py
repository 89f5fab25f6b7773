"""Every table of the hub, imported in one place for Alembic and the schema check."""

from app.hub.parties.models import Platform, PlatformRole

__all__ = ["Platform", "PlatformRole"]
