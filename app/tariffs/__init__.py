"""Tariff engine: prices sessions and CDRs as OCPI 2.2.1 says (mod_tariffs, mod_cdrs).

Pure functions, no I/O. Entry points:

* :func:`price_session` - a tariff and charging periods -> :class:`PricedSession` (every CDR total);
* :func:`price_cdr` / :func:`apply_to_cdr` - recompute the totals of a CDR;
* :func:`running_cost` - the cost so far of a live session;
* :func:`compile_tariff` - validate a tariff once and reuse it for many sessions;
* :func:`compiled_tariff` - the same, kept by (owner, id, last_updated) for repeated pricing;
* :func:`select_tariff` - which of a connector's tariffs applies to a token (TariffType);
* :mod:`app.tariffs.money` - amounts in a currency's minor units for payments.
"""

from app.tariffs.cache import clear_compiled_tariffs, compiled_tariff
from app.tariffs.engine import (
    Context,
    CostLine,
    PricedSession,
    apply_to_cdr,
    price_cdr,
    price_session,
    resolve_time_zone,
    running_cost,
)
from app.tariffs.model import (
    CompiledTariff,
    PricingInputError,
    SessionDataError,
    TariffError,
    TariffTerms,
    compile_tariff,
)
from app.tariffs.money import Cost, currency_exponent, from_minor_units, to_minor_units
from app.tariffs.restrictions import Reservation
from app.tariffs.selection import AD_HOC_TOKEN_TYPE, select_tariff, tariff_type_for

__all__ = [
    "AD_HOC_TOKEN_TYPE",
    "CompiledTariff",
    "Context",
    "Cost",
    "CostLine",
    "PricedSession",
    "PricingInputError",
    "Reservation",
    "SessionDataError",
    "TariffError",
    "TariffTerms",
    "apply_to_cdr",
    "clear_compiled_tariffs",
    "compile_tariff",
    "compiled_tariff",
    "currency_exponent",
    "from_minor_units",
    "price_cdr",
    "price_session",
    "resolve_time_zone",
    "running_cost",
    "select_tariff",
    "tariff_type_for",
    "to_minor_units",
]
