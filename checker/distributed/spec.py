"""What a Ray worker needs to rebuild the driver's model and properties in its own process:
names, bounds and the user files they came from (a design or property from a user's file
is not importable by name in another process, and a guarded design does not pickle)."""

from __future__ import annotations

from dataclasses import dataclass

from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.userfile import LOADED, import_user_file

from ..resolve import make_model


@dataclass(frozen=True)
class ModelSpec:
    """``design`` name, ``bounds`` (``Bounds.as_dict()``, depth included), ``props``
    (property or lemma names, in the driver's order), ``user_files``: ``((path, kind,
    sha256), ...)`` loaded in the driver (:data:`daxcheck.userfile.LOADED`), reloaded in
    the same order by :meth:`build`."""

    design: str
    bounds: dict
    props: tuple
    user_files: tuple = ()

    @classmethod
    def of(cls, model, props) -> ModelSpec:
        """The spec of a :class:`~daxcheck.spec.model.DaxModel` and its Property list."""
        files = tuple((u.path, u.kind, u.sha256) for u in LOADED.values())
        return cls(
            model.design.name, dict(model.bounds.as_dict()), tuple(p.name for p in props), files
        )

    def build(self):
        """``(model, props)`` in this process.  Raises RuntimeError when a user file
        changed since the driver loaded it (the workers would check another model)."""
        for path, kind, sha in self.user_files:
            if import_user_file(path, kind).sha256 != sha:
                raise RuntimeError(f"{path} changed while the run started")
        model = make_model(DESIGNS[self.design], self.bounds)
        allp = {**PROPERTIES, **LEMMAS}
        return model, [allp[n] for n in self.props]
