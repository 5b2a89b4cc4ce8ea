"""daxcheck: a model checker and executable specification of Linux filesystem DAX.

The distribution maps the repository folders onto one namespace: ``spec/`` is
``daxcheck.spec``, ``checker/`` is ``daxcheck.checker``, ``properties/`` is
``daxcheck.properties``.
"""

__version__ = "0.1.0"
