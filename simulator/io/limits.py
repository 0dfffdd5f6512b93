"""Limits on what a model file may ask of the importer, checked before any recursive work.

A legal SBML document can still be hostile: a few thousand nested ``<apply>`` elements make
libsbml's reader overflow the C stack (the process dies), sympy recurse past Python's limit,
or the code generators run for minutes; an entity declaration can expand to gigabytes; a
comp external model definition can name its own file and send libsbml's flattening into a
loop. :func:`check_sbml_text` reads the document once with expat (a streaming parser:
constant stack, whatever the nesting) and refuses, with a :class:`ModelImportError` naming
the element, its line, the limit and how to raise it:

=============================  =========  ==============================================
limit (:class:`ImportLimits`)  default    what
=============================  =========  ==============================================
``max_file_bytes``             64 MiB     size of a model file or text
``max_elements``               2,000,000  XML elements in one document
``max_expression_depth``       100        nesting of one ``<math>`` expression
``max_expression_nodes``       20,000     MathML elements in one ``<math>``
``max_text_depth``             200        nesting of brackets in Antimony text
``max_text_terms``             5,000      operators in one Antimony statement (libantimony
                                          takes quadratic time in them)
=============================  =========  ==============================================

The expression depth is what sympy's printers and our code generators, which recurse, take
within Python's default recursion limit; :func:`too_deep` turns a ``RecursionError`` that
gets past the limits anyway into the same kind of error.

It also refuses document type declarations (SBML has none; they carry entity expansion)
and a cycle of comp external model files. Raise a limit with
``load_model(path, limits=ImportLimits(max_expression_depth=1000))``; the deeper a model,
the more stack and time its import and code generation need.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from xml.parsers import expat

from simulator.errors import InvalidValueError, ModelImportError

__all__ = ["ImportLimits", "DEFAULT_LIMITS", "check_sbml_text", "check_antimony_text",
           "check_size", "external_files", "file_size", "too_deep"]

_COMP_NS = "http://www.sbml.org/sbml/level3/version1/comp/version1"
_MATHML_NS = "http://www.w3.org/1998/Math/MathML"
# SBML elements that name what a <math> belongs to, for messages
_NAMED = {"reaction", "assignmentRule", "rateRule", "algebraicRule", "initialAssignment",
          "event", "eventAssignment", "functionDefinition", "kineticLaw", "trigger", "delay",
          "priority", "stoichiometryMath", "constraint", "speciesReference"}


@dataclass(frozen=True)
class ImportLimits:
    """Limits on a model's size and nesting (see the module docstring for the defaults)."""

    max_file_bytes: int = 64 * 2 ** 20
    max_elements: int = 2_000_000
    max_expression_depth: int = 100
    max_expression_nodes: int = 20_000
    max_text_depth: int = 200
    max_text_terms: int = 5_000

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidValueError(f"ImportLimits.{f.name} must be a positive integer, "
                                        f"got {v!r}")

    def refuse(self, source: str, what: str, value: int, name: str) -> ModelImportError:
        """The error for ``what`` (with ``value``) over the limit ``name``."""
        limit = getattr(self, name)
        return ModelImportError(
            f"{source}: {what} is {value:,}, over the limit of {limit:,} ({name}); if the "
            f"model is trusted, raise it: load_model(..., limits=ImportLimits({name}=...))")


DEFAULT_LIMITS = ImportLimits()


@contextmanager
def too_deep(what: str):
    """Turn a ``RecursionError`` inside the block into a :class:`ModelImportError` naming
    ``what`` (e.g. "model 'm': code generation") and the limit to lower."""
    try:
        yield
    except RecursionError:
        raise ModelImportError(
            f"{what}: the model's math nests too deeply for Python's stack; keep expressions "
            f"within ImportLimits.max_expression_depth (default "
            f"{DEFAULT_LIMITS.max_expression_depth})") from None


def check_size(n_bytes: int, source: str, limits: ImportLimits) -> None:
    """Refuse a file or text larger than ``limits.max_file_bytes``."""
    if n_bytes > limits.max_file_bytes:
        raise limits.refuse(source, "the model's size in bytes", n_bytes, "max_file_bytes")


class _Scan:
    """expat handlers that count elements and measure each ``<math>``, iteratively."""

    def __init__(self, parser, source: str, limits: ImportLimits):
        self.parser, self.source, self.limits = parser, source, limits
        self.depth = 0
        self.elements = 0
        self.context: list[tuple[int, str]] = []     # (depth, "reaction 'R1'") of named ones
        self.math_depth = 0                          # depth inside the current <math>, or 0
        self.math_start = 0
        self.math_nodes = 0
        self.external: list[str] = []
        self.models: list[tuple[int, str]] = []      # (depth, id) of the open <model>s
        self.sizes: dict[str, int] = {}              # model id -> its own elements
        self.submodels: dict[str, list[str]] = {}    # model id -> the models it instantiates

    def where(self) -> str:
        line = self.parser.CurrentLineNumber
        owner = f"<math> of {self.context[-1][1]}" if self.context else "<math>"
        return f"{self.source}, line {line}: {owner}"

    def start(self, name: str, attrs: dict) -> None:
        self.depth += 1
        self.elements += 1
        if self.elements > self.limits.max_elements:
            raise self.limits.refuse(f"{self.source}, line {self.parser.CurrentLineNumber}",
                                     "the number of XML elements", self.elements, "max_elements")
        local = name.rpartition(" ")[2]
        if self.models:
            self.sizes[self.models[-1][1]] += 1
        if local in ("model", "modelDefinition", "externalModelDefinition"):
            mid = next((v for k, v in attrs.items() if k.rpartition(" ")[2] == "id"), "") or \
                f"#{len(self.sizes)}"
            self.models.append((self.depth, mid))
            self.sizes.setdefault(mid, 0)
            self.submodels.setdefault(mid, [])
        if local == "submodel" and self.models:
            ref = next((v for k, v in attrs.items() if k.rpartition(" ")[2] == "modelRef"), "")
            self.submodels[self.models[-1][1]].append(ref)
        if self.math_depth:
            self.math_depth += 1
            self.math_nodes += 1
            if self.math_depth - 1 > self.limits.max_expression_depth:
                raise self.limits.refuse(self.where(), "the expression's nesting depth",
                                         self.math_depth - 1, "max_expression_depth")
            if self.math_nodes > self.limits.max_expression_nodes:
                raise self.limits.refuse(self.where(), "the number of MathML elements",
                                         self.math_nodes, "max_expression_nodes")
        elif local == "math":
            self.math_depth, self.math_nodes = 1, 0
        elif local in _NAMED:
            ident = attrs.get("id") or attrs.get("variable") or attrs.get("symbol") or \
                attrs.get("species") or ""
            self.context.append((self.depth, f"{local} '{ident}'" if ident else local))
        if local == "externalModelDefinition":
            src = next((v for k, v in attrs.items() if k.rpartition(" ")[2] == "source"), None)
            if src:
                self.external.append(src)

    def end(self, name: str) -> None:
        if self.math_depth:
            self.math_depth -= 1
        if self.models and self.models[-1][0] == self.depth:
            self.models.pop()
        if self.context and self.context[-1][0] == self.depth:
            self.context.pop()
        self.depth -= 1

    def doctype(self, *args) -> None:
        raise ModelImportError(f"{self.source}, line {self.parser.CurrentLineNumber}: a "
                               f"document type declaration (<!DOCTYPE ...>) is not part of "
                               f"SBML and is refused (it can declare entities that expand "
                               f"without bound)")


def check_sbml_text(text: str, source: str = "<string>",
                    limits: ImportLimits = DEFAULT_LIMITS) -> list[str]:
    """Check an SBML document against ``limits`` before libsbml reads it.

    Returns
    -------
    list of str
        The ``source`` attributes of its comp external model definitions.

    Raises
    ------
    ModelImportError
        Over a limit, a document type declaration, or XML so malformed that expat stops
        (libsbml reports the details of ordinary malformed XML; this only guards it).
    """
    check_size(len(text.encode("utf-8", "surrogatepass")), source, limits)
    parser = expat.ParserCreate(namespace_separator=" ")
    scan = _Scan(parser, source, limits)
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.StartDoctypeDeclHandler = scan.doctype
    parser.EntityDeclHandler = scan.doctype
    try:
        parser.Parse(text, True)
    except expat.ExpatError:
        pass            # malformed XML: libsbml reads it and names the problem itself
    _check_instances(scan, source, limits)
    return scan.external


def _check_instances(scan: _Scan, source: str, limits: ImportLimits) -> None:
    """Refuse comp submodels that instantiate more elements than ``max_elements`` when
    flattened (models nesting instances of models grow exponentially), or that contain
    themselves. Iterative, memoised over model definitions."""
    total: dict[str, int] = {}
    for root in scan.sizes:
        stack = [(root, ())]
        while stack:
            mid, chain = stack[-1]
            if mid in total:
                stack.pop()
                continue
            refs = [r for r in scan.submodels.get(mid, []) if r in scan.sizes]
            waiting = [r for r in refs if r not in total]
            if waiting:
                for r in waiting:
                    if r in chain or r == mid:
                        raise ModelImportError(f"{source}: comp model '{mid}' contains itself "
                                               f"through submodel '{r}'")
                    stack.append((r, (*chain, mid)))
                continue
            total[mid] = scan.sizes[mid] + sum(total[r] for r in refs)
            stack.pop()
            if total[mid] > limits.max_elements:
                raise limits.refuse(source, f"the number of elements of comp model '{mid}' "
                                    f"with its submodels flattened", total[mid], "max_elements")


def external_files(origin: Path, refs: list[str], limits: ImportLimits = DEFAULT_LIMITS) -> None:
    """Check the comp external model files that a document at ``origin`` names (``refs``,
    relative to its folder), and the files they name, without recursion: each against
    ``limits``, and none may lead back to a file on its own chain.

    Raises
    ------
    ModelImportError
        A cycle of external model files (libsbml's flattening would not return), or a file
        over a limit.
    """
    origin = origin.resolve()
    todo = [(origin, refs, (origin,))]
    while todo:
        here, names, chain = todo.pop()
        for ref in names:
            target = (here.parent / ref).resolve()
            if target in chain:
                shown = " -> ".join(p.name for p in (*chain, target))
                raise ModelImportError(f"{here}: comp external model definitions form a "
                                       f"cycle ({shown}); a model cannot contain itself")
            if not target.is_file():
                continue              # the flattening reports the missing file by name
            check_size(target.stat().st_size, str(target), limits)
            text = target.read_text(encoding="utf-8", errors="replace")
            todo.append((target, check_sbml_text(text, str(target), limits), (*chain, target)))


_TOKENS = re.compile(r"[()\[\]{};]|[-+*/^,]|&&|\|\||[<>=!]=?")


def check_antimony_text(text: str, source: str = "<string>",
                        limits: ImportLimits = DEFAULT_LIMITS) -> None:
    """Check Antimony text against ``limits`` before the antimony library parses it: its
    size, the nesting of its brackets and the operators per statement (a statement ends at
    ``;`` or at a line end outside brackets; comments are left out, roughly)."""
    check_size(len(text.encode("utf-8", "surrogatepass")), source, limits)
    depth = terms = 0
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0].split("#", 1)[0]
        for m in _TOKENS.finditer(code):
            tok = m.group()
            if tok in "([{":
                depth += 1
                if depth > limits.max_text_depth:
                    raise limits.refuse(f"{source}, line {n}", "the nesting of brackets", depth,
                                        "max_text_depth")
            elif tok in ")]}":
                depth = max(depth - 1, 0)
            elif tok == ";":
                terms = 0
            else:
                terms += 1
                if terms > limits.max_text_terms:
                    raise limits.refuse(f"{source}, line {n}", "the number of operators in "
                                        "one statement", terms, "max_text_terms")
        if depth == 0:
            terms = 0


def file_size(path: str | os.PathLike) -> int:
    """The size of a file in bytes (0 if it cannot be read: the reader says why)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
