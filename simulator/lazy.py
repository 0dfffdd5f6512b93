"""Public names that load their module on first use (PEP 562), for package ``__init__``s.

``import simulator`` (and ``simulator.estimation``) must stay cheap: the command line, every
worker process and every test pay for it, and most jobs never touch pyPESTO, petab,
matplotlib or Panel. A package lists its public names and the module each lives in; the
module is imported when the name is first read.
"""
from __future__ import annotations

import importlib

__all__ = ["lazy_names"]


def lazy_names(package: str, namespace: dict, exports: dict):
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a public name to
    ``"module"`` (the attribute of the same name there) or ``("module", "attribute")``;
    a name found is kept in ``namespace`` (the package's globals), so it loads once."""
    where = {name: (spec, name) if isinstance(spec, str) else tuple(spec)
             for name, spec in exports.items()}

    def __getattr__(name: str):
        spec = where.get(name)
        if spec is None:
            raise AttributeError(f"module '{package}' has no attribute '{name}'")
        module, attribute = spec
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
