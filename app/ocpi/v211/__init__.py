"""OCPI 2.1.1: the objects the hub exchanges with 2.1.1 partners, and their translation to and
from the canonical 2.2.1 form (:mod:`app.ocpi.v211.translate`)."""
