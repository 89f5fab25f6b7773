"""The ``ext`` engine (app/ocpi/ext.py): what 2.2.1 ``data`` cannot carry, kept beside it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ocpi import ext
from app.ocpi.ext import MISSING, ExtOnlyParent

# --- diff/apply ---------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", "AVAILABLE"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["x", "y", "z", "uid", "id"]), inner, max_size=4),
    ),
    max_leaves=20,
)
# A stored object is a JSON object (or a list of them); None at the top means "no object".
json_objects = st.dictionaries(
    st.sampled_from(["x", "y", "z", "uid", "id"]), json_values, max_size=4
)


def _evse(uid: str, **fields: Any) -> dict[str, Any]:
    return {"uid": uid, "status": "AVAILABLE", **fields}


evses = st.lists(
    st.builds(
        _evse,
        st.sampled_from(["1", "2", "3", "4"]),
        parking=st.lists(st.sampled_from(["P1", "P2"]), max_size=2),
    ),
    max_size=4,
    unique_by=lambda e: e["uid"],
)


@given(json_objects, json_objects)
def test_apply_of_diff_rebuilds_any_json(orig: Any, base: Any) -> None:
    node = ext.diff(orig, base)
    assert ext.apply(base, node) == orig
    # ext is stored as JSON next to data.
    assert json.loads(json.dumps(node)) == node


@given(evses, evses)
def test_apply_of_diff_rebuilds_keyed_lists_in_order(orig: list[Any], base: list[Any]) -> None:
    node = ext.diff({"evses": orig}, {"evses": base})
    assert ext.apply({"evses": base}, node) == {"evses": orig}


@given(json_values)
def test_no_difference_is_none(value: Any) -> None:
    assert ext.diff(value, value) is None
    assert ext.apply(value, None) == value


def test_an_object_only_in_ext_is_added_whole() -> None:
    evse = {"uid": "9", "connectors": [{"id": "1", "standard": "MCS"}]}
    node = ext.diff(evse, MISSING)
    assert node == {"$set": evse}
    assert ext.apply(None, node) == evse
    assert ext.apply(MISSING, None) is None


def test_fields_2_2_1_does_not_have_get_no_guard() -> None:
    orig = {"status": "AVAILABLE", "parking": [{"parking_id": "1"}], "vendor_field": 1}
    raw = {"status": "AVAILABLE"}
    base = {"status": "AVAILABLE", "parking": []}  # normalisation added the empty list
    node = ext.diff(orig, base, raw)
    assert node == {
        "$fields": {"parking": {"$set": [{"parking_id": "1"}]}, "vendor_field": {"$set": 1}}
    }


def test_a_stale_replacement_loses_to_the_2_2_1_value() -> None:
    # A Tariff stored from a 2.3.0 "tax_included: YES" tariff: data has the prices excl. VAT.
    orig = {"tax_included": "YES", "elements": [{"price": 1.21, "vat": 21}]}
    base = {"tax_included": "NO", "elements": [{"price": 1.0, "vat": 21}]}
    node = ext.diff(orig, base)
    assert ext.apply(base, node) == orig
    # Another writer changed the prices in data since: neither the old incl. VAT prices nor
    # tax_included=YES may be applied to them (guards are atomic per object).
    changed = {"tax_included": "NO", "elements": [{"price": 2.0, "vat": 21}]}
    assert ext.apply(changed, node) == changed


def test_unguarded_fields_survive_a_change_of_2_2_1_fields() -> None:
    orig = {"status": "AVAILABLE", "parking": [{"parking_id": "1"}]}
    node = ext.diff(orig, {"status": "AVAILABLE"})
    assert ext.apply({"status": "CHARGING"}, node) == {
        "status": "CHARGING",
        "parking": [{"parking_id": "1"}],
    }


def test_keyed_items_keep_their_place_and_follow_2_2_1_changes() -> None:
    # EVSE 2 has only connectors 2.2.1 cannot carry: data lacks it, ext has it whole.
    orig = {"evses": [_evse("1"), _evse("2", connectors=["MCS"]), _evse("3")]}
    base = {"evses": [_evse("1"), _evse("3")]}
    node = ext.diff(orig, base)
    assert ext.apply(base, node) == orig
    # A new EVSE in data (a 2.2.1 PUT of it) goes after the ones ext knows the order of.
    grown = {"evses": [_evse("1"), _evse("3"), _evse("4")]}
    assert [e["uid"] for e in ext.apply(grown, node)["evses"]] == ["1", "2", "3", "4"]


# --- sub-objects --------------------------------------------------------------------------------


def _location_ext() -> ext.Ext:
    orig = {
        "id": "LOC1",
        "help_phone": "+3212345678",
        "evses": [
            {"uid": "1", "parking": [{"parking_id": "P1"}], "connectors": [{"id": "1"}]},
            {"uid": "2", "connectors": [{"id": "1", "standard": "MCS"}]},
        ],
    }
    base = {"id": "LOC1", "evses": [{"uid": "1", "connectors": [{"id": "1"}]}]}
    node = ext.diff(orig, base)
    assert node is not None
    return node


def test_at_finds_the_ext_of_an_evse_and_of_an_evse_only_in_ext() -> None:
    node = _location_ext()
    assert ext.at(node, [("evses", "1")]) == {
        "$fields": {"parking": {"$set": [{"parking_id": "P1"}]}}
    }
    assert ext.at(node, [("evses", "2")]) == {
        "$set": {"uid": "2", "connectors": [{"id": "1", "standard": "MCS"}]}
    }
    assert ext.at(node, [("evses", "2"), ("connectors", "1")]) == {
        "$set": {"id": "1", "standard": "MCS"}
    }
    assert ext.at(node, [("evses", "9")]) is None


def test_put_at_replaces_one_evse_and_keeps_the_rest() -> None:
    node = _location_ext()
    # The EVSE is PUT again by a 2.2.1 writer: it has no ext any more.
    after = ext.put_at(node, [("evses", "1")], None)
    assert ext.at(after, [("evses", "1")]) is None
    assert ext.at(after, [("evses", "2")]) is not None
    assert after is not None and after["$fields"]["help_phone"] == {"$set": "+3212345678"}
    # A Connector PUT below an EVSE that exists only in ext cannot be merged into data.
    with pytest.raises(ExtOnlyParent):
        ext.put_at(node, [("evses", "2"), ("connectors", "1")], None)


def test_patch_at_replaces_only_the_patched_fields() -> None:
    node = _location_ext()
    patch_ext = {"$fields": {"parking": {"$set": []}}}  # a 2.3.0 PATCH clearing the parking
    after = ext.patch_at(node, [("evses", "1")], ["parking", "last_updated"], patch_ext)
    assert ext.at(after, [("evses", "1")]) == patch_ext
    # A 2.2.1 PATCH of the Location's name leaves its help_phone alone.
    same = ext.patch_at(node, [], ["name", "last_updated"], None)
    assert same == node
    cleared = ext.patch_at(node, [], ["help_phone", "last_updated"], None)
    assert cleared is not None and "help_phone" not in cleared["$fields"]


@settings(max_examples=50)
@given(evses, evses)
def test_put_at_then_apply_equals_the_whole_diff(orig: list[Any], base: list[Any]) -> None:
    whole = ext.diff({"evses": orig}, {"evses": base})
    # Rebuilding the Location's ext EVSE by EVSE gives the same objects back.
    built: ext.Ext | None = None
    base_by = {e["uid"]: e for e in base}
    for evse in orig:
        sub = ext.diff(evse, base_by.get(evse["uid"], MISSING))
        built = ext.put_at(built, [("evses", evse["uid"])], sub)
    kept = [e for e in base if e["uid"] in {o["uid"] for o in orig}]
    result = ext.apply({"evses": kept}, built)
    assert sorted(result["evses"], key=lambda e: e["uid"]) == sorted(
        ext.apply({"evses": base}, whole)["evses"], key=lambda e: e["uid"]
    )


def test_an_object_only_in_ext_cannot_take_a_2_2_1_patch() -> None:
    node = _location_ext()
    with pytest.raises(ExtOnlyParent):
        ext.patch_at(node, [("evses", "2")], ["status"], None)
