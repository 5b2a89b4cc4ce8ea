"""Invariants over the fsdax state: the registry and the shipped properties."""
from .registry import (PROPERTIES, Property, invariant, InvalidDefinition, PropertyFileError,
                       load_properties_file)
from . import fsdax  # noqa: F401  (registers the shipped invariants)

__all__ = ["PROPERTIES", "Property", "invariant", "InvalidDefinition", "PropertyFileError",
           "load_properties_file"]
