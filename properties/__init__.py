"""Invariants over the fsdax state: the registry, the shipped properties and the shipped
strengthening lemmas."""

from . import (
    fsdax,  # noqa: F401  (registers the shipped invariants)
    lemmas,  # noqa: F401  (registers the shipped strengthening lemmas)
)
from .registry import (
    LEMMAS,
    PROPERTIES,
    InvalidDefinition,
    Property,
    PropertyFileError,
    invariant,
    lemma,
    load_properties_file,
    lookup,
)

__all__ = [
    "PROPERTIES",
    "LEMMAS",
    "Property",
    "invariant",
    "lemma",
    "lookup",
    "InvalidDefinition",
    "PropertyFileError",
    "load_properties_file",
]
