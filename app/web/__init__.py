"""Pages the hub serves to people (API documentation)."""
