"""CuPy's call signatures, read from the installed CuPy.

Every callable of the stand-in checks its arguments against the signature of the CuPy callable
of the same name *before* computing anything with NumPy, so a keyword that NumPy accepts and
CuPy does not (`sum(where=)`, `max(initial=)`, `astype(device=)`) fails here as on a GPU.

Where the signature comes from, in order:
1. `inspect.signature` (CuPy's Python functions, RandomState's methods, `matmul`);
2. the signature Cython embeds in the first docstring line of a method, e.g.
   `_ndarray_base.max(self, axis=None, out=None, keepdims=False) -> _ndarray_base`
   (Cython type names such as `int axis=-1` or `_ndarray_base b` are kept, and checked);
3. `DOCUMENTED`, a few signatures copied from CuPy's documentation for callables that offer
   neither (none of CuPy's ndarray methods needs it today; the table is the fallback).

Signatures are parsed once, when the stand-in module is built, and kept in `CallSpec` objects
whose `check` is a couple of set look-ups per call.
"""
import ast
import inspect
import re

import numpy as np

# Signatures for CuPy callables that have neither an inspectable signature nor an embedded one
# (from https://docs.cupy.dev/en/v14.2.0/reference/); keyed by "<owner>.<name>".
DOCUMENTED = {
    "ndarray.__getitem__": "self, slices",
    "ndarray.__setitem__": "self, slices, value",
}

_EMBEDDED = re.compile(r"^\s*[\w.]+\((?P<params>.*)\)\s*(->.*)?$")
_INT_TYPES = frozenset({"int", "Py_ssize_t", "Py_ssize_t_", "long", "size_t", "int64_t", "intptr_t"})


class CallSpec:
    """The parameters of one CuPy callable, in a form that is quick to check.

    Attributes: `qualname` (as CuPy's error messages name it), `names` (positional parameter
    names in order), `keywords` (names accepted as keywords), `max_positional` (None with
    *args), `var_positional` (the name of *args, or None), `var_keyword` (True with **kwargs)
    and `typed` (Cython-typed parameters: (position, name, type name)).
    """

    __slots__ = (
        "keywords",
        "max_positional",
        "names",
        "qualname",
        "source",
        "typed",
        "var_keyword",
        "var_positional",
    )

    def __init__(self, qualname, params, source):
        self.qualname = qualname
        self.source = source
        self.names = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        self.keywords = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        self.var_positional = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
        self.max_positional = None if self.var_positional else len(self.names)
        self.var_keyword = any(p.kind == p.VAR_KEYWORD for p in params)
        self.typed = ()

    def check(self, args, kwargs):
        """Raise TypeError, as CuPy would, for too many positional arguments or an unknown keyword."""
        if self.max_positional is not None and len(args) > self.max_positional:
            raise TypeError(f"{self.qualname}() takes at most {self.max_positional} positional "
                            f"argument(s) ({len(args)} given)")
        if kwargs and not self.var_keyword:
            for key in kwargs:
                if key not in self.keywords:
                    raise TypeError(f"{self.qualname}() got an unexpected keyword argument '{key}'"
                                    f" (CuPy's signature: {self.describe()})")
        if self.typed:
            self._check_types(args, kwargs)

    def _check_types(self, args, kwargs):
        for position, name, type_name in self.typed:
            if position < len(args):
                value = args[position]
            elif name in kwargs:
                value = kwargs[name]
            else:
                continue
            if type_name in _INT_TYPES:
                if isinstance(value, (bool, np.bool_)) or not hasattr(type(value), "__index__"):
                    raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
            elif type_name == "_ndarray_base" and value is not None:
                from ._array import ndarray  # noqa: PLC0415 (_array imports this module)
                if not isinstance(value, ndarray):
                    raise TypeError(f"Argument '{name}' has incorrect type (expected "
                                    f"cupy._core.core._ndarray_base, got {type(value).__name__})")

    def describe(self):
        """The parameter names, for error messages."""
        parts = list(self.names)
        parts += sorted(self.keywords.difference(self.names))
        if self.max_positional is None:
            parts.append("*args")
        if self.var_keyword:
            parts.append("**kwargs")
        return f"{self.qualname}({', '.join(parts)})"


def _split_top_level(text):
    """Split a parameter list on the commas that are not inside brackets or quotes."""
    parts, depth, quote, current = [], 0, None, []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def parse_parameter_list(text):
    """Parameters from a Cython-style parameter list such as "self, int axis=-1, *, copy=None".

    Returns (list of inspect.Parameter, list of (position, name, Cython type name)). `self` is
    dropped. Defaults are read with ast.literal_eval where possible (they only matter for
    messages: the stand-in never fills in CuPy's defaults itself).
    """
    params, typed = [], []
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    for part in _split_top_level(text):
        if part == "/":
            params = [p.replace(kind=p.POSITIONAL_ONLY) for p in params]
            continue
        if part == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        if part.startswith("**"):
            params.append(inspect.Parameter(part[2:].split()[-1], inspect.Parameter.VAR_KEYWORD))
            continue
        if part.startswith("*"):
            params.append(inspect.Parameter(part[1:].split()[-1], inspect.Parameter.VAR_POSITIONAL))
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        declaration, _, default_text = part.partition("=")
        words = declaration.split(":")[0].split()
        name = words[-1]
        if name == "self":
            continue
        default = inspect.Parameter.empty
        if default_text:
            try:
                default = ast.literal_eval(default_text.strip())
            except (ValueError, SyntaxError):
                default = default_text.strip()
        if len(words) > 1 and kind != inspect.Parameter.KEYWORD_ONLY:
            typed.append((len([p for p in params if p.kind != p.KEYWORD_ONLY]), name, words[-2]))
        params.append(inspect.Parameter(name, kind, default=default))
    return params, typed


def read_spec(obj, qualname, documented_key=None):
    """The CallSpec of the CuPy callable `obj`, or None when no source gives its signature."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        params = [p for p in signature.parameters.values() if p.name != "self"]
        return CallSpec(qualname, params, "inspect.signature")
    first_line = (getattr(obj, "__doc__", None) or "").strip().split("\n", 1)[0]
    match = _EMBEDDED.match(first_line)
    source = "embedded docstring signature"
    if match is None and documented_key in DOCUMENTED:
        text, source = DOCUMENTED[documented_key], "DOCUMENTED table"
    elif match is not None:
        text = match.group("params")
    else:
        return None
    params, typed = parse_parameter_list(text)
    spec = CallSpec(qualname, params, source)
    spec.typed = tuple(typed)
    return spec


def numpy_translation(cupy_spec, numpy_function):
    """How to call `numpy_function` with arguments given in CuPy's terms.

    Returns (renames, bind_from): `renames` maps a CuPy keyword to the NumPy parameter at the
    same position under another name (CuPy's `tup` is NumPy's `arrays`); `bind_from` is the
    first position from which the two orders differ (CuPy's argmax(a, axis, dtype, out) against
    NumPy's argmax(a, axis, out)), so positional arguments from there on must be passed by
    name; None when the orders agree or NumPy's signature cannot be read.
    """
    try:
        numpy_params = list(inspect.signature(numpy_function).parameters.values())
    except (TypeError, ValueError):
        return {}, None
    numpy_positional = [p for p in numpy_params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    numpy_positional_names = [p.name for p in numpy_positional]
    cupy_names = set(cupy_spec.names) | cupy_spec.keywords
    renames, bind_from = {}, None
    for i, name in enumerate(cupy_spec.names):
        numpy_here = numpy_positional[i] if i < len(numpy_positional) else None
        if numpy_here is not None and numpy_here.name == name:
            continue
        moved = name in numpy_positional_names  # the same parameter sits elsewhere in NumPy's order
        if numpy_here is None or moved or numpy_here.name in cupy_names:
            bind_from = i if bind_from is None else bind_from
            break
        if numpy_here.kind != inspect.Parameter.POSITIONAL_ONLY:
            renames[name] = numpy_here.name
    return renames, bind_from
