"""OCPI 2.3.0 (edition 2): the objects the hub exchanges with 2.3.0 partners, and their
translation to and from the canonical 2.2.1 form (:mod:`app.ocpi.v230.translate`)."""
