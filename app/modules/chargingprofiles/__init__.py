"""ChargingProfiles module (mod_charging_profiles.asciidoc): SCSP/eMSP -> hub -> CPO."""
