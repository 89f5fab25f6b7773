"""Sync jobs: pulls of a CPO's Locations and Tariffs, as durable work in the database."""
