"""Settings of the OCPP CSMS and of the hub's own CPO (environment variables, laptop defaults).

Kept apart from app/core/settings.py so the CSMS can be configured (and tested) on its own; every
field is read from the upper-case environment variable of the same name.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class OcppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # Serve the /ocpp/{charge_point_id} WebSocket endpoint and run the bridge.
    ocpp_enabled: bool = True
    # Accept chargers nobody registered (no password check). For demos only.
    ocpp_allow_unknown_chargers: bool = False

    # The hub's own CPO party on OCPI: must differ from HUB_COUNTRY_CODE/HUB_PARTY_ID.
    own_cpo_country_code: str = "NL"
    own_cpo_party_id: str = "VRC"
    own_cpo_name: str = "Voltroam chargers"

    # Heartbeat interval handed to chargers in BootNotification.
    ocpp_heartbeat_interval_seconds: int = 300
    # A charger silent for interval * this factor is considered gone (EVSEs become UNKNOWN).
    ocpp_heartbeat_grace_factor: float = 2.5
    # How often the watchdog looks for silent chargers.
    ocpp_watchdog_seconds: float = 15.0
    # How long the CSMS waits for a charger to answer a call.
    ocpp_response_timeout_seconds: float = 30.0
    # Session PATCHes while charging: at most one per charger transaction every N seconds.
    ocpp_session_update_seconds: float = 60.0
    # START_SESSION / STOP_SESSION: the charger must start/stop the transaction within this time
    # after accepting the remote request, or the CommandResult is FAILED.
    ocpp_command_timeout_seconds: int = 60
    # Meter readings of running transactions are written in batches, one every N seconds (and
    # when the charger disconnects, its transaction ends and the hub stops); a hub killed with
    # SIGKILL loses at most this window of readings. Session PATCHes are not delayed by it.
    ocpp_meter_flush_seconds: float = 5.0
    # The highest EVSE (1.6: connector) number a charger may report; a message with a larger
    # one gets a CALLERROR (PropertyConstraintViolation) and changes nothing.
    ocpp_max_evses: int = 64
    # Database sessions the chargers' messages and connections use at once (the rest of the
    # pool, 15 by default, stays for OCPI requests and workers); more wait their turn.
    ocpp_db_concurrency: int = 8
    # Currency of Sessions and CDRs when the location has no tariff.
    ocpp_default_currency: str = "EUR"
