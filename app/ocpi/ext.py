"""``ext``: what the canonical 2.2.1 ``data`` of an object cannot carry, kept beside it.

A translator of a newer version (2.3.0) computes, from the object as the sender gave it (``orig``),
the 2.2.1 ``data`` and from that the object it would rebuild without help (``base``). ``ext`` is the
difference, :func:`diff` ``(orig, base)``, and :func:`apply` ``(base, ext)`` gives ``orig`` back
exactly. ``ext`` is plain JSON (it is stored in the database next to ``data``) and None when there
is no difference: a 2.2.1-only object has no ``ext``.

Nodes (every key starts with ``$`` so that they never collide with OCPI field names)::

    {"$fields": {name: node, ...}}            an object: changes per field
    {"$key": "uid", "$items": {uid: node},    a list of objects with an identity (EVSEs by uid,
     "$order": [uid, ...]}                    Connectors, Parking places and Tariffs by id)
    {"$set": value, "$was": base_value}       replace a value (or add it: base lacked the field)
    {"$set": value}                           add/replace unconditionally
    {"$drop": true, "$was": base_value}       remove a value that base has

``$was`` guards a replacement: it applies only while ``data`` still gives the value it was computed
against. If another writer changed that field of ``data`` since (a 2.2.1 PATCH, the hub's own CPO),
the 2.2.1 value wins and the stale replacement is skipped. Guards are atomic per object: when one
guarded field of an object is stale, none of that object's guarded replacements apply (they may
belong together, e.g. a Tariff's ``tax_included`` and its ``elements``). Fields that do not exist
in 2.2.1 at all (``parking_places``, ``help_phone``, extension fields, ...) have no guard: no 2.2.1
writer can change them. A whole-object PUT from a 2.2.1 or 2.1.1 writer should reset ``ext`` to
None (the new object has none of the old 2.3.0 fields).

Sub-objects: :func:`at`, :func:`put_at` and :func:`patch_at` address the ``ext`` of an EVSE or
Connector inside its Location's ``ext`` by a path such as ``[("evses", "3256"), ("connectors",
"1")]``, for the Location module's sub-object GET, PUT and PATCH.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = (
    "ITEM_KEYS",
    "MISSING",
    "Ext",
    "ExtOnlyParent",
    "Path",
    "apply",
    "apply_in_place",
    "at",
    "copy_json",
    "diff",
    "patch_at",
    "put_at",
)

Ext = dict[str, Any]
# (list field, identity) steps from an object down to one of its sub-objects.
Path = Sequence[tuple[str, str]]

# Lists whose items are matched by identity rather than by position or as a whole.
ITEM_KEYS: Mapping[str, str] = {
    "evses": "uid",
    "connectors": "id",
    "parking_places": "id",
    "tariffs": "id",
}


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists and immutable scalars); several times faster
    than ``copy.deepcopy``, which the translators would otherwise spend most of their time in."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


# --- diff ---------------------------------------------------------------------------------------


def diff(orig: Any, base: Any, raw: Any = MISSING) -> Ext | None:
    """What turns ``base`` into ``orig`` (None when they are equal).

    ``base`` is the normalised object the other side rebuilds from ``data`` (MISSING when
    ``data`` has no such object); ``raw`` is that object before normalisation (what the
    translation produced from 2.2.1 fields). A field that ``raw`` lacks did not come from 2.2.1, so
    its value in ``ext`` gets no guard. ``raw`` defaults to ``base``.
    """
    if raw is MISSING:
        raw = base
    if base is MISSING:
        return {"$set": copy_json(orig)}
    if orig == base:
        return None
    return _diff_value(orig, base, raw, None)


def _diff_value(orig: Any, base: Any, raw: Any, field: str | None) -> Ext:
    if isinstance(orig, dict) and isinstance(base, dict):
        return _diff_object(orig, base, raw if isinstance(raw, dict) else {})
    key = ITEM_KEYS.get(field or "")
    if key and _keyed(orig, key) and _keyed(base, key):
        return _diff_items(orig, base, raw if isinstance(raw, list) else [], key)
    return {"$set": copy_json(orig), "$was": copy_json(base)}


def _diff_object(orig: dict[str, Any], base: dict[str, Any], raw: dict[str, Any]) -> Ext:
    fields: dict[str, Any] = {}
    for name, value in orig.items():
        if name not in base or name not in raw:
            if name not in base or value != base[name]:
                # Not from 2.2.1 (a 2.3.0-only or extension field): no guard.
                fields[name] = {"$set": copy_json(value)}
        elif value != base[name]:
            fields[name] = _diff_value(value, base[name], raw[name], name)
    for name, value in base.items():
        if name not in orig:
            fields[name] = (
                {"$drop": True, "$was": copy_json(value)} if name in raw else {"$drop": True}
            )
    return {"$fields": fields}


def _keyed(items: Any, key: str) -> bool:
    if not isinstance(items, list):
        return False
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get(key), str) or item[key] in seen:
            return False
        seen.add(item[key])
    return True


def _diff_items(orig: list[Any], base: list[Any], raw: list[Any], key: str) -> Ext:
    base_by = {item[key]: item for item in base}
    raw_by = {item[key]: item for item in raw if isinstance(item, dict) and key in item}
    orig_keys = [item[key] for item in orig]
    items: dict[str, Any] = {}
    for item in orig:
        ident = item[key]
        if ident not in base_by:
            items[ident] = {"$set": copy_json(item)}
        elif item != base_by[ident]:
            items[ident] = _diff_value(item, base_by[ident], raw_by.get(ident, {}), None)
    kept = set(orig_keys)
    for ident, item in base_by.items():
        if ident not in kept:
            items[ident] = {"$drop": True, "$was": copy_json(item)}
    node: Ext = {"$key": key, "$items": items}
    if orig_keys != list(base_by):
        node["$order"] = orig_keys
    return node


# --- apply --------------------------------------------------------------------------------------


def apply(base: Any, ext: Ext | None) -> Any:
    """``base`` with ``ext`` applied (``base`` itself is not changed). ``base`` is MISSING or
    None for an object that exists only in ``ext``; the result is None if ``ext`` does not add
    it."""
    return apply_in_place(copy_json(base), ext)[0]


def apply_in_place(base: Any, ext: Ext | None) -> tuple[Any, bool]:
    """As :func:`apply`, but ``base`` (a fresh object of the caller's) is changed in place. Also
    says whether a stale replacement was skipped (the result then mixes ``data``'s newer values
    with ``ext``'s, and may deserve validation)."""
    holder: dict[str, Any] = {} if base is MISSING or base is None else {"": base}
    stale: list[bool] = []
    if ext:
        _apply_node(holder, "", ext, guarded_ok=_single_guard(holder, "", ext), stale=stale)
    return holder.get(""), bool(stale)


def _is_leaf(node: Mapping[str, Any]) -> bool:
    return "$set" in node or "$drop" in node


def _guard_holds(holder: Mapping[str, Any], name: str, node: Mapping[str, Any]) -> bool:
    return name in holder and bool(holder[name] == node["$was"])


def _single_guard(holder: Mapping[str, Any], name: str, node: Mapping[str, Any]) -> bool:
    return not (_is_leaf(node) and "$was" in node) or _guard_holds(holder, name, node)


def _apply_node(
    holder: dict[str, Any], name: str, node: Ext, *, guarded_ok: bool, stale: list[bool]
) -> None:
    if _is_leaf(node):
        if "$was" in node and not guarded_ok:
            stale.append(True)
            return  # stale: the 2.2.1 value changed since this was computed
        if "$drop" in node:
            holder.pop(name, None)
        else:
            holder[name] = copy_json(node["$set"])
        return
    current = holder.get(name, MISSING)
    if "$fields" in node and isinstance(current, dict):
        _apply_fields(current, node["$fields"], stale)
    elif "$items" in node and isinstance(current, list):
        holder[name] = _apply_items(current, node, stale)


def _apply_fields(obj: dict[str, Any], fields: Mapping[str, Ext], stale: list[bool]) -> None:
    # Atomic per object: every guarded replacement of this object holds, or none applies.
    guarded_ok = all(
        _guard_holds(obj, name, node)
        for name, node in fields.items()
        if _is_leaf(node) and "$was" in node
    )
    for name, node in fields.items():
        _apply_node(obj, name, node, guarded_ok=guarded_ok, stale=stale)


def _apply_items(current: list[Any], node: Ext, stale: list[bool]) -> list[Any]:
    key = node["$key"]
    by_key: dict[str, Any] = {}
    loose: list[Any] = []
    for item in current:
        if isinstance(item, dict) and isinstance(item.get(key), str) and item[key] not in by_key:
            by_key[item[key]] = item
        else:
            loose.append(item)
    base_order = list(by_key)
    for ident, child in node["$items"].items():
        holder = {"": by_key[ident]} if ident in by_key else {}
        _apply_node(holder, "", child, guarded_ok=_single_guard(holder, "", child), stale=stale)
        if "" in holder:
            by_key[ident] = holder[""]
        else:
            by_key.pop(ident, None)
    order = node.get("$order")
    if order is None:
        keys = [k for k in base_order if k in by_key] + [k for k in by_key if k not in base_order]
    else:
        listed = set(order)
        keys = [k for k in order if k in by_key] + [k for k in by_key if k not in listed]
    return [by_key[k] for k in keys] + loose


# --- sub-objects --------------------------------------------------------------------------------


def at(ext: Ext | None, path: Path) -> Ext | None:
    """The ``ext`` of the sub-object at ``path`` (e.g. an EVSE's inside its Location's).

    When an ancestor exists only in ``ext`` the answer is ``{"$set": the sub-object}``."""
    node = ext
    for depth, (field, ident) in enumerate(path):
        if not node:
            return None
        if "$set" in node:
            value = _find(node["$set"], path[depth:])
            return {"$set": copy_json(value)} if value is not None else None
        child = node.get("$fields", {}).get(field)
        if not child or "$items" not in child:
            return None
        node = child["$items"].get(ident)
    return copy_json(node) if node else None


def _find(value: Any, path: Path) -> Any:
    for field, ident in path:
        key = ITEM_KEYS.get(field, "id")
        items = value.get(field) if isinstance(value, dict) else None
        value = next((i for i in items or [] if isinstance(i, dict) and i.get(key) == ident), None)
        if value is None:
            return None
    return value


class ExtOnlyParent(ValueError):
    """The sub-object's parent exists only in ``ext`` (2.2.1 cannot carry it): change it in the
    newer version's form (rebuild, change, translate back) instead."""


def put_at(ext: Ext | None, path: Path, sub: Ext | None) -> Ext | None:
    """``ext`` after a PUT of the sub-object at ``path`` whose own ``ext`` is ``sub``.

    A ``sub`` that adds the whole object (``{"$set": ...}``: it exists only in ``ext``) is placed
    after the ones ``data`` has, or where it was if it was there before."""
    if not path:
        return _prune(copy_json(sub)) if sub else None
    root: Ext = copy_json(ext) if ext else {"$fields": {}}
    if _is_leaf(root):
        raise ExtOnlyParent("the object exists only in ext")
    node = root
    for depth, (field, ident) in enumerate(path):
        fields = node.setdefault("$fields", {})
        items_node = fields.get(field)
        if items_node is None or "$items" not in items_node:
            # None yet, or a whole-list replacement that a sub-object PUT makes stale anyway.
            items_node = {"$key": ITEM_KEYS.get(field, "id"), "$items": {}}
            fields[field] = items_node
        items = items_node["$items"]
        if depth == len(path) - 1:
            if sub:
                items[ident] = copy_json(sub)
                order = items_node.get("$order")
                if order is not None and ident not in order:
                    order.append(ident)
            else:
                items.pop(ident, None)
            break
        child = items.get(ident)
        if child is not None and _is_leaf(child):
            raise ExtOnlyParent(f"{field} {ident} exists only in ext")
        if child is None:
            child = {"$fields": {}}
            items[ident] = child
        node = child
    return _prune(root)


def patch_at(ext: Ext | None, path: Path, fields: Iterable[str], sub: Ext | None) -> Ext | None:
    """``ext`` after a PATCH of the object at ``path`` (``[]``: the object itself) that carried
    ``fields``: those fields take the PATCH's ``ext`` (``sub``, from translating the PATCH body),
    the others keep theirs. The guards in ``sub`` were computed against the PATCH's own values,
    which are the merged ``data``'s values of those fields once the PATCH is applied."""
    target = at(ext, path) if path else (copy_json(ext) if ext else None)
    if target is not None and _is_leaf(target):
        raise ExtOnlyParent("the patched object exists only in ext")
    merged: Ext = target if target else {"$fields": {}}
    merged_fields = merged.setdefault("$fields", {})
    for name in fields:
        merged_fields.pop(name, None)
    if sub and "$fields" in sub:
        merged_fields.update(copy_json(sub["$fields"]))
    result = _prune(merged)
    return put_at(ext, path, result) if path else result


def _prune(node: Ext | None) -> Ext | None:
    """Drop empty containers so that "no difference" is always None."""
    if not node:
        return None
    if _is_leaf(node):
        return node
    if "$fields" in node:
        fields = {k: v for k, v in ((k, _prune(v)) for k, v in node["$fields"].items()) if v}
        return {"$fields": fields} if fields else None
    if "$items" in node:
        items = {k: v for k, v in ((k, _prune(v)) for k, v in node["$items"].items()) if v}
        if not items and "$order" not in node:
            return None
        pruned: Ext = {"$key": node["$key"], "$items": items}
        if "$order" in node:
            pruned["$order"] = list(node["$order"])
        return pruned
    return None
