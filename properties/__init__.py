"""Invariants over the fsdax state: the registry, the shipped properties and the shipped
strengthening lemmas."""
from .registry import (PROPERTIES, LEMMAS, Property, invariant, lemma, lookup,
                       InvalidDefinition, PropertyFileError, load_properties_file)
from . import fsdax  # noqa: F401  (registers the shipped invariants)
from . import lemmas  # noqa: F401  (registers the shipped strengthening lemmas)

__all__ = ["PROPERTIES", "LEMMAS", "Property", "invariant", "lemma", "lookup",
           "InvalidDefinition", "PropertyFileError", "load_properties_file"]
