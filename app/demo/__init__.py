"""`voltroam demo`: the hub with a simulated CPO, eMSP and OCPP chargers."""
