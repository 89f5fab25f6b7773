"""The hub's OCPP CSMS (1.6J and 2.0.1) and its bridge to OCPI: chargers connected to the hub
appear on OCPI as the hub's own CPO party."""
