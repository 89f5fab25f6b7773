"""Types shared by every OCPI 2.2.1 module (spec: types.asciidoc).

Every model derives from :class:`OcpiModel`: unknown fields are tolerated (peers in the field send
vendor extensions) and dropped, ``null`` for an optional field is the same as leaving it out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

# "Only printable ASCII allowed" (types.asciidoc, CiString).
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")
# string: "Only printable UTF-8 allowed", no CR, tabs, line breaks or other control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_printable_ascii(value: str) -> str:
    if not _PRINTABLE_ASCII.match(value):
        raise ValueError("only printable ASCII characters are allowed")
    return value


def _check_printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters (line breaks, tabs, ...) are not allowed")
    return value


def check_path_segment(value: str) -> str:
    """An id the hub puts into URLs must fit in exactly one path segment.

    Every other printable character is carried by percent-encoding, but ``.`` and ``..`` are path
    steps that URL normalisation removes (and ``%2E`` is an unreserved character, decoded before
    that), and a ``/`` splits the id into two segments (servers decode ``%2F`` before routing).
    """
    if value in (".", ".."):
        raise ValueError(f"{value!r} cannot be an id: in a URL it is a path step, not a name")
    if "/" in value:
        raise ValueError("an id cannot contain '/': it must fit in one URL path segment")
    return value


def ci_key(value: str) -> str:
    """The normalised form under which CiStrings are stored and compared."""
    return value.upper()


_Ascii = AfterValidator(_check_printable_ascii)
_Printable = AfterValidator(_check_printable)
PathSegment = AfterValidator(check_path_segment)

# CiString(n): case-insensitive printable ASCII of at most n characters. The case is kept as sent;
# comparisons go through ci_key(). (mypy needs every alias spelled out, hence the list.)
CiString2 = Annotated[str, StringConstraints(min_length=2, max_length=2), _Ascii]
CiString3 = Annotated[str, StringConstraints(min_length=1, max_length=3), _Ascii]
CiString36 = Annotated[str, StringConstraints(min_length=1, max_length=36), _Ascii]
CiString39 = Annotated[str, StringConstraints(min_length=1, max_length=39), _Ascii]
CiString48 = Annotated[str, StringConstraints(min_length=1, max_length=48), _Ascii]
CiString64 = Annotated[str, StringConstraints(min_length=1, max_length=64), _Ascii]
CiString255 = Annotated[str, StringConstraints(min_length=1, max_length=255), _Ascii]

# The id of an object the hub serves and forwards under URLs ({country_code}/{party_id}/{id}):
# a CiString that is also one path segment (Location.id, EVSE.uid, Connector.id, Tariff.id,
# Token.uid, Session.id, CDR.id).
ObjectId36 = Annotated[str, StringConstraints(min_length=1, max_length=36), _Ascii, PathSegment]
ObjectId39 = Annotated[str, StringConstraints(min_length=1, max_length=39), _Ascii, PathSegment]

# string(n): case-sensitive printable UTF-8 of at most n characters.
String2 = Annotated[str, StringConstraints(max_length=2), _Printable]
String3 = Annotated[str, StringConstraints(max_length=3), _Printable]
String4 = Annotated[str, StringConstraints(max_length=4), _Printable]
String5 = Annotated[str, StringConstraints(max_length=5), _Printable]
String6 = Annotated[str, StringConstraints(max_length=6), _Printable]
String8 = Annotated[str, StringConstraints(max_length=8), _Printable]
String10 = Annotated[str, StringConstraints(max_length=10), _Printable]
String15 = Annotated[str, StringConstraints(max_length=15), _Printable]
String20 = Annotated[str, StringConstraints(max_length=20), _Printable]
String32 = Annotated[str, StringConstraints(max_length=32), _Printable]
String36 = Annotated[str, StringConstraints(max_length=36), _Printable]
String40 = Annotated[str, StringConstraints(max_length=40), _Printable]
String45 = Annotated[str, StringConstraints(max_length=45), _Printable]
String50 = Annotated[str, StringConstraints(max_length=50), _Printable]
String64 = Annotated[str, StringConstraints(max_length=64), _Printable]
String100 = Annotated[str, StringConstraints(max_length=100), _Printable]
String255 = Annotated[str, StringConstraints(max_length=255), _Printable]
String512 = Annotated[str, StringConstraints(max_length=512), _Printable]
# string without a stated length (e.g. CredentialsToken is string(64), Display texts 512).
AnyString = Annotated[str, _Printable]


# --- DateTime -------------------------------------------------------------------------------

_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_datetime(value: Any) -> datetime:
    """Parse an OCPI DateTime: RFC 3339, with or without ``Z``, with or without fractions.

    "The absence of the timezone designator implies a UTC timestamp." Peers in the field also send
    offsets such as ``+00:00`` or ``+02:00``; those are converted to UTC rather than refused.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        match = _DATETIME_RE.match(value.strip())
        if not match:
            raise ValueError("not an RFC 3339 date-time such as 2015-06-29T20:39:09Z")
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        iso = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
        try:
            dt = datetime.fromisoformat(iso).replace(microsecond=micro)
        except ValueError as exc:
            raise ValueError(f"invalid date-time: {exc}") from None
        if zone and zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            dt = dt.replace(tzinfo=timezone(sign * offset))
    else:
        raise ValueError("a date-time must be a string")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Always UTC with ``Z``; milliseconds only when there are any."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


DateTime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]


# --- number and int ---------------------------------------------------------------------------
#
# types.asciidoc, "number": "Numbers in OCPI are formatted as JSON numbers. Unless mentioned
# otherwise, numbers use 4 decimals and a sufficiently large amount of digits." The hub reads them
# as Decimal and bounds them: |x| < 10^11, finite. No real object comes near it: amounts are per
# session or per unit (10^11 is a hundred billion of any currency, also of those with thousands of
# units to the euro), energies are kWh (10^11 kWh is a large power station's output over a
# century), powers and currents are W and A, times are hours, percentages 0-100. The bound is also
# what keeps a number exact on the wire: 11 integer digits plus the 4 decimals are 15 significant
# digits, which an IEEE 754 double (what most peers parse a JSON number into) holds exactly, and it
# leaves the decimal context (28 digits) room for the tariff engine's products. Anything larger,
# NaN or Infinity (as a number or a string) is bad input: 2001 naming the field.
NUMBER_LIMIT = Decimal(10) ** 11

# "int" has no stated size in OCPI; the hub holds it as a 32-bit signed integer (what the typed
# peers in the field hold, and what the database's INTEGER holds). Seconds up to 68 years, Watts up
# to 2 GW, Wh step sizes up to 2 GWh: beyond any charging session.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def _check_decimal(value: Any) -> Any:
    # JSON booleans are numbers to Python; they are not OCPI numbers.
    if isinstance(value, bool):
        raise ValueError("a number is required")
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _check_number_range(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("NaN and Infinity are not numbers")
    if abs(value) >= NUMBER_LIMIT:
        raise ValueError("out of range: a number must be above -10^11 and below 10^11")
    if value.is_zero():
        # -0 is a JSON number equal to 0; it is kept as 0 so it never comes back as "-0".
        return Decimal(0)
    return value


def _serialize_number(value: Decimal) -> float | int:
    # JSON numbers on the wire ("number" type: 4 decimals). Output is rounded to four decimals.
    quantized = value.quantize(Decimal("0.0001"))
    if quantized == quantized.to_integral_value():
        return int(quantized)
    return float(quantized)


# Documented as the JSON number it is on the wire (numeric strings from peers in the field are
# tolerated on input, not advertised).
_NUMBER_SCHEMA: dict[str, Any] = {
    "type": "number",
    "exclusiveMinimum": -(10**11),
    "exclusiveMaximum": 10**11,
}

Number = Annotated[
    Decimal,
    BeforeValidator(_check_decimal),
    AfterValidator(_check_number_range),
    PlainSerializer(_serialize_number, when_used="json"),
    WithJsonSchema(_NUMBER_SCHEMA),
]

# int, signed and non-negative (what a value means stays with its field).
Int = Annotated[int, Field(ge=INT_MIN, le=INT_MAX)]
NonNegativeInt = Annotated[int, Field(ge=0, le=INT_MAX)]

URL = Annotated[
    str, StringConstraints(max_length=255, min_length=1), AfterValidator(_check_printable)
]


class OcpiModel(BaseModel):
    """Base of every OCPI object.

    ``extra="ignore"``: unknown fields from peers are tolerated. Optional fields default to ``None``
    so an explicit ``null`` is accepted.
    """

    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        use_enum_values=False,
        str_strip_whitespace=False,
    )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict without ``None`` fields (OCPI omits absent optionals)."""
        return self.model_dump(mode="json", exclude_none=True)


def examples_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The request examples a model documents in its OpenAPI schema.

    Set on a subclass with ``model_config = ConfigDict(json_schema_extra={"examples": [...]})``;
    pydantic merges that with the base class's configuration, so :class:`OcpiModel`'s settings
    still apply. Routers whose body is a plain dict reuse them as ``Body(openapi_examples=...)``.
    """
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not isinstance(examples, list):
        return []
    return [example for example in examples if isinstance(example, dict)]


class Role(StrEnum):
    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class DisplayText(OcpiModel):
    language: CiString2
    text: String512


class Price(OcpiModel):
    excl_vat: Number
    incl_vat: Number | None = None


# Both are URL segments of every push ({country_code}/{party_id}/{id}).
CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2), _Ascii, PathSegment]
PartyId = Annotated[str, StringConstraints(min_length=3, max_length=3), _Ascii, PathSegment]


# --- Additions for the module schemas (tariffs, cdrs, locations, ...) -------------------------

CiString4 = Annotated[str, StringConstraints(min_length=1, max_length=4), _Ascii]
CiString32 = Annotated[str, StringConstraints(min_length=1, max_length=32), _Ascii]
String16 = Annotated[str, StringConstraints(max_length=16), _Printable]
String5000 = Annotated[str, StringConstraints(max_length=5000), _Printable]


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


# Cardinality "*": a list that may be absent, empty or (as peers in the field send) ``null``; it
# is always a list once parsed. Use as:
#     field: Annotated[list[X], NullAsEmpty] = Field(default_factory=list)
NullAsEmpty = BeforeValidator(_none_as_empty_list)

# "hh:mm", 24h format with leading zeros: ``([0-1][0-9]|2[0-3]):[0-5][0-9]`` (RegularHours,
# TariffRestrictions).
Time5 = Annotated[str, StringConstraints(pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
# "yyyy-mm-dd": ``([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])`` (TariffRestrictions).
Date10 = Annotated[
    str, StringConstraints(pattern=r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
]
