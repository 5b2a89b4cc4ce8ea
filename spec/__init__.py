"""The executable fsdax specification: state, vocabulary, the modelled kernel
(:mod:`.kernel`), operations (:mod:`.ops`), designs, model.  Importing the package registers
every shipped design (:mod:`.catalog`)."""

from . import catalog  # noqa: F401  (registers the seed, history and race designs)
