"""Output serializers that say the same as Django REST framework's, in less time.

Every list page of the API turns up to 200 objects, with their nested references, into
JSON. Django REST framework walks each field of each object through a general machinery
(``get_attribute`` with its error handling, ``SkipField``, a generator of readable
fields) that costs more than the data itself. :class:`ReadSerializer` decides once per
serializer instance how to read each field — the attribute, the foreign key's id, the
method, the nested serializer — and then only reads and converts: the field's own
``to_representation`` still formats every value (dates, times, choices), so the output is
exactly what REST framework would produce. ``tests/api/test_representation.py`` checks
that for every output serializer of the API, on every object of the test world.

Only plain, read-only fields get the short path; anything else (a dotted ``source``,
``source="*"``, a field whose ``get_attribute`` is its own) falls back to REST framework's
own steps for that field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.db.models import Manager
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers

Reader = Callable[[Any], Any]


def _plain(field: drf_fields.Field, attr: str) -> Reader:
    to_representation = field.to_representation

    def read(instance: Any) -> Any:
        value = getattr(instance, attr)
        if value is None:
            return None
        if callable(value) and drf_fields.is_simple_callable(value):
            value = value()
            if value is None:
                return None
        return to_representation(value)

    return read


def _nested(field: serializers.BaseSerializer, attr: str) -> Reader:
    to_representation = field.to_representation

    def read(instance: Any) -> Any:
        value = getattr(instance, attr)
        return None if value is None else to_representation(value)

    return read


def _many(field: serializers.ListSerializer, attr: str) -> Reader:
    if field.child is None:  # REST framework's ListSerializer always has one
        raise TypeError(f"{field!r} has no child serializer")
    child = field.child.to_representation

    def read(instance: Any) -> Any:
        # what ``manager.all()`` answers when the relation was prefetched, without making
        # a related manager for every object (which costs more than the items themselves)
        prefetched = getattr(instance, "_prefetched_objects_cache", None)
        if prefetched is not None and attr in prefetched:
            return [child(item) for item in prefetched[attr]]
        value = getattr(instance, attr)
        items = value.all() if isinstance(value, Manager) else value
        return [child(item) for item in items]

    return read


def _primary_key(attr: str) -> Reader:
    return lambda instance: getattr(instance, attr)


def _general(field: drf_fields.Field) -> Reader:
    """REST framework's own two steps, for fields the short paths do not cover."""

    def read(instance: Any) -> Any:
        try:
            attribute = field.get_attribute(instance)
        except drf_fields.SkipField:
            raise
        if attribute is None:
            return None
        return field.to_representation(attribute)

    return read


def reader_for(field: drf_fields.Field) -> Reader:
    source = field.source
    attrs = field.source_attrs
    single = source != "*" and len(attrs) == 1
    if isinstance(field, serializers.SerializerMethodField):
        method = getattr(field.parent, field.method_name)
        return method
    if single and isinstance(field, serializers.ListSerializer):
        return _many(field, attrs[0])
    if single and isinstance(field, serializers.BaseSerializer):
        return _nested(field, attrs[0])
    if single and type(field) is relations.PrimaryKeyRelatedField and field.pk_field is None:
        # REST framework reads the foreign key's column (the "pk only" optimisation) and
        # answers its value
        return _primary_key(f"{attrs[0]}_id")
    if single and type(field).get_attribute is drf_fields.Field.get_attribute:
        return _plain(field, attrs[0])
    return _general(field)


# Each output serializer class's fields as ``ModelSerializer.get_fields`` builds them from
# the model (the same in every process: derived from the code, like a model's ``_meta``);
# each serializer instance gets its own copies, as REST framework gives it.
_built_fields: dict[type, dict[str, drf_fields.Field]] = {}


class ReadSerializer(serializers.ModelSerializer):
    """A read-only model serializer whose output is REST framework's, read faster (see the
    module docstring)."""

    def get_fields(self) -> dict[str, drf_fields.Field]:
        # introspecting the model for every serializer of every request cost about as
        # much as serialising a page; copying the built fields costs a fraction of it
        built = _built_fields.get(type(self))
        if built is None:
            built = _built_fields[type(self)] = super().get_fields()
        return copy.deepcopy(built)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        plan = self.__dict__.get("_reading_plan")
        if plan is None:
            plan = [(field.field_name, reader_for(field)) for field in self._readable_fields]
            self.__dict__["_reading_plan"] = plan
        data: dict[str, Any] = {}
        for name, read in plan:
            try:
                data[name] = read(instance)
            except drf_fields.SkipField:
                continue
        return data
