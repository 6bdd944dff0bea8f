"""The step runner: calls one step function inside its repo's own environment.

This file runs as a script under the interpreter of a repo's uv environment,
which never has mlrecipes installed, so it imports nothing outside the
standard library (and keeps Python 3.8 syntax)::

    <python> step_runner.py SPEC.json [--pdb]

The parent side (:mod:`mlrecipes.core.executors.runner`) writes the spec, format
version 1, a JSON object::

    {"version": 1, "step": "train", "label": "train (models@abc1234)",
     "module": "churn_model.train", "func": "fit", "cwd": "/abs/checkout",
     "params": {"lr": 0.1}, "inputs": {"features": "/abs/path"},
     "outputs": {"model": "/abs/tmp-entry/model.pkl"}, "result": "/abs/result.json",
     "observe": {"roots": ["/abs/checkouts/feats"], "record": "/abs/x.observed.json"}}

With ``observe`` (optional), a PEP 578 audit hook records, from just before
the step's module is imported until the call returns, what the step's process
read inside ``roots`` (the workspace's checkouts): the modules it imported and
where the import system searched for them, the files it opened for reading, the
folders it listed, and whether it started a process or loaded native code from
a root (what the record cannot vouch for). The hook only appends to lists; the
paths are sorted out once the call returned and written to ``record`` (on
success only); hashing them is the parent's job, after the step
(:mod:`mlrecipes.core.codedeps`).

The runner puts ``cwd`` first on ``sys.path``, imports the module, checks that
the function takes exactly the names the manifest gives (function defaults
fill parameters the manifest does not set), creates the parent folders of the
outputs, calls the function with keyword arguments (paths as
:class:`pathlib.Path`) and writes the result file atomically::

    {"ok": true, "metrics": {"auc": 0.87}}
    {"ok": false, "kind": "raised", "error": "ValueError: boom", "traceback": "..."}

Exit codes: 0 ok; 1 the step raised (traceback on stderr, which is the log);
2 the step could not be called as declared (import, signature; ``kind`` is
``import`` or ``signature``). A killed runner writes no result. The entries of
a returned dict whose values are real numbers are the metrics; ``bool`` counts
as a number (``True`` -> 1.0) because flags such as ``converged`` are useful
metrics and MLflow stores only floats. Any other return value (a list, a
string, a dict entry that is no number) is noted in the log and ignored.

Start-up cost matters: for trivial steps it is most of a step's cost. On a
slow machine ``import json`` (which pulls in ``re``) costs 60% of a bare
interpreter start and ``inspect`` as much again, so the hot path reads the
spec with a small JSON reader, writes the success result by hand and checks
plain functions through their code object; ``json``, ``inspect``,
``traceback`` and ``pathlib`` are imported only when needed.
"""

# pathlib costs start-up time (see above): the script uses os.path on purpose.
# ruff: noqa: PTH100, PTH103, PTH105, PTH109, PTH112, PTH117, PTH118, PTH120, PTH123
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs start-up time; mypy honours this name
if TYPE_CHECKING:
    from typing import Any

SPEC_VERSION = 1
EXIT_OK, EXIT_RAISED, EXIT_CALL_ERROR = 0, 1, 2
_CO_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS, without importing inspect


class CallError(Exception):
    """The step cannot be called as the manifest declares it (exit 2)."""

    def __init__(self, kind: str, message: str, tb: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.tb = tb


# --- a minimal JSON reader and writer (json pulls in re; see the module docstring) ---

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = (
    ("true", True),
    ("false", False),
    ("null", None),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)
_NUMBER_CHARS = frozenset("+-0123456789.eE")


class _Reader:
    """Recursive-descent reader for the JSON that :mod:`json` writes (``allow_nan``)."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\n\r":
            self.i += 1

    def value(self) -> Any:
        self.skip()
        c = self.s[self.i : self.i + 1]
        if c == "{":
            return self.container("}", True)
        if c == "[":
            return self.container("]", False)
        if c == '"':
            return self.string()
        for text, val in _LITERALS:
            if self.s.startswith(text, self.i):
                self.i += len(text)
                return val
        return self.number()

    def container(self, close: str, is_object: bool) -> Any:
        self.i += 1
        items: list[Any] = []
        self.skip()
        if self.s.startswith(close, self.i):
            self.i += 1
            return {} if is_object else items
        while True:
            if is_object:
                self.skip()
                key = self.string()
                self.skip()
                self.expect(":")
                items.append((key, self.value()))
            else:
                items.append(self.value())
            self.skip()
            if self.s.startswith(close, self.i):
                self.i += 1
                return dict(items) if is_object else items
            self.expect(",")

    def expect(self, char: str) -> None:
        if not self.s.startswith(char, self.i):
            raise ValueError(f"bad JSON at offset {self.i}: expected {char!r}")
        self.i += 1

    def string(self) -> str:
        s, parts = self.s, []
        self.expect('"')
        i = self.i
        while True:
            quote = s.find('"', i)
            slash = s.find("\\", i, quote)
            if quote < 0:
                raise ValueError("bad JSON: unterminated string")
            if slash < 0:
                parts.append(s[i:quote])
                self.i = quote + 1
                return "".join(parts)
            parts.append(s[i:slash])
            esc = s[slash + 1]
            if esc == "u":
                code, i = int(s[slash + 2 : slash + 6], 16), slash + 6
                if 0xD800 <= code < 0xDC00 and s.startswith("\\u", i):
                    low = int(s[i + 2 : i + 6], 16)
                    if 0xDC00 <= low < 0xE000:
                        code, i = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), i + 6
                parts.append(chr(code))
            else:
                parts.append(_ESCAPES[esc])
                i = slash + 2

    def number(self) -> int | float:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] in _NUMBER_CHARS:
            self.i += 1
        token = self.s[start : self.i]
        if not token:
            raise ValueError(f"bad JSON at offset {start}")
        return float(token) if any(c in token for c in ".eE") else int(token)


def loads(text: str) -> Any:
    """Parse JSON text as :func:`json.loads` would (NaN and Infinity allowed)."""
    reader = _Reader(text)
    value = reader.value()
    reader.skip()
    if reader.i != len(text):
        raise ValueError(f"bad JSON: extra data at offset {reader.i}")
    return value


def _json_str(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _write_ok(path: str, metrics: dict[str, float]) -> None:
    body = ", ".join(f"{_json_str(k)}: {_json_float(v)}" for k, v in metrics.items())
    _write_atomic(path, '{"ok": true, "metrics": {' + body + "}}\n")


def _write_error(path: str, kind: str, error: str, tb: str | None) -> None:
    import json

    data = {"ok": False, "kind": kind, "error": error, "traceback": tb}
    _write_atomic(path, json.dumps(data) + "\n")


# --- observing what the step reads (see the module docstring) ---

# Events after which the record cannot vouch for what the step read: another
# process does not run this hook. multiprocessing starts its children through
# `_posixsubprocess` without an audit event, but imports its `popen_*` module
# only when it starts one.
_UNSEEN = frozenset(
    (
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
        "os.fork", "os.forkpty", "os.startfile",
    )
)  # fmt: skip
_SPAWNING_MODULES = ("multiprocessing.popen_",)
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_IMPORTLIB = "<frozen importlib"
_PYCACHE = f"{os.sep}__pycache__{os.sep}"


class _Observer:
    """The audit hook's state: raw events, sorted out by :meth:`report` at the end."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = tuple(os.path.join(os.path.normpath(r), "") for r in roots)
        self.imports: list[str] = []
        self.opened: list[str] = []
        self.listed: list[str] = []
        self.native: list[str] = []
        self.unseen: list[str] = []
        self.active = True

    def hook(self, event: str, args: Any) -> None:
        if not self.active:
            return
        if event == "import":
            self.imports.append(args[0])
        elif event == "open":
            self._open(args)
        elif event == "os.listdir" or event == "os.scandir":
            if not _by_importlib(2):  # its path finder lists folders: see _searched
                self._add(self.listed, args[0] if args[0] is not None else ".")
        elif event in _UNSEEN:
            self.unseen.append(f"started a process ({event})")
        elif event == "ctypes.dlopen" and isinstance(args[0], str) and os.sep in args[0]:
            self._add(self.native, args[0])  # by path: maybe a library of a checkout
        elif event == "sqlite3.connect":
            self._add(self.opened, args[0])

    def _open(self, args: Any) -> None:
        path, mode, flags = args[0], args[1], args[2]
        # os.open passes no mode string: its access mode bits tell.
        reads = ("r" in mode or "+" in mode) if isinstance(mode, str) else flags & 3 != os.O_WRONLY
        # Opens by the import system count too: pkgutil.get_data and loaders'
        # get_data read data files that way (bytecode caches are dropped in report()).
        if reads:
            self._add(self.opened, path)

    def _add(self, into: list[str], path: Any) -> None:
        if isinstance(path, int):
            return  # a file descriptor: whatever it is was opened (and seen) by path
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        path = os.fspath(path)
        # Relative to the folder the step was in at that moment (it may chdir).
        into.append(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))

    def inside(self, path: str) -> bool:
        path = os.path.join(os.path.normpath(path), "")
        return any(path.startswith(root) for root in self.roots)

    def report(self) -> dict[str, list[Any]]:
        """What the step read inside the roots (sorted, unique)."""
        self.active = False
        # A module's bytecode cache stands for its source, which counts by __spec__.
        opened = (os.path.normpath(p) for p in self.opened if _PYCACHE not in p)
        files = {p for p in opened if self.inside(p)}
        searches: set[tuple[str, str]] = set()
        unseen = list(self.unseen)
        for name in dict.fromkeys(self.imports):
            if name.startswith(_SPAWNING_MODULES):
                unseen.append(f"started a process ({name})")
            origin, searched = _searched(name)
            searches.update((d, name.rpartition(".")[2]) for d in searched if self.inside(d))
            if origin and self.inside(origin):
                files.add(os.path.normpath(origin))
                if origin.endswith(_NATIVE_SUFFIXES):
                    unseen.append(f"loaded native code ({origin})")
        unseen += [f"loaded native code ({p})" for p in self.native if self.inside(p)]
        return {
            "files": sorted(files),
            "listings": sorted({os.path.normpath(p) for p in self.listed if self.inside(p)}),
            "searches": sorted([d, n] for d, n in searches),
            "unseen": sorted(set(unseen)),
        }


def _by_importlib(depth: int) -> bool:
    """Whether the audited call came from the import system (its caller is the
    frame ``depth`` levels up from here)."""
    return sys._getframe(depth).f_code.co_filename.startswith(_IMPORTLIB)


def _searched(name: str) -> tuple[str | None, list[str]]:
    """(file of module ``name`` or None, folders the path finder looked in for it).

    A name is looked up on ``sys.path`` (top level) or its package's ``__path__``,
    entry by entry until found: every folder up to the one holding it could
    shadow it with a new file; a name never found was looked for everywhere.
    """
    parent, _, last = name.rpartition(".")
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.origin in ("built-in", "frozen"):
        return None, []  # found before the path finder looks (sys.meta_path order)
    where = sys.path if not parent else getattr(sys.modules.get(parent), "__path__", None)
    if where is None:
        return None, []
    origin = getattr(spec, "origin", None) if getattr(spec, "has_location", False) else None
    homes = set(getattr(spec, "submodule_search_locations", None) or ())
    if origin:
        homes.add(os.path.dirname(origin))
    # A namespace package takes a portion from every entry: all were searched.
    namespace = origin is None and bool(homes)
    searched = []
    for entry in list(where):
        if not isinstance(entry, str):
            continue
        folder = os.path.abspath(entry or os.curdir)
        searched.append(folder)
        if not namespace and (os.path.join(folder, last) in homes or folder in homes):
            break
    return origin, searched


def _write_observed(path: str, observed: dict[str, list[Any]]) -> None:
    def text(value: Any) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(text(v) for v in value) + "]"
        return _json_str(value)

    body = ", ".join(f"{_json_str(k)}: {text(v)}" for k, v in observed.items())
    _write_atomic(path, '{"version": 1, ' + body + "}\n")


# --- script side ---


def _where(spec: dict[str, Any]) -> str:
    return f"step {spec['label']!r}: {spec['module']}.{spec['func']}()"


def _set_path(cwd: str) -> None:
    """Put ``cwd`` first on ``sys.path``, replacing the runner's own folder.

    Python puts the script's folder (this package) on ``sys.path[0]``; left
    there, its modules (``task``, ``store``...) would shadow the repo's own.
    """
    if os.getcwd() != cwd:
        os.chdir(cwd)
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0] or os.curdir) == here:
        sys.path[0] = cwd
    else:
        sys.path.insert(0, cwd)


def _load_function(spec: dict[str, Any]) -> Any:
    module_name, func_name = spec["module"], spec["func"]
    try:
        __import__(module_name)
        module = sys.modules[module_name]
    except Exception as exc:
        raise CallError(
            "import",
            f"step {spec['label']!r}: cannot import module {module_name!r} "
            f"(from {spec['cwd']}): {type(exc).__name__}: {exc}"
            + _shadowed(module_name, spec["cwd"]),
            _format_tb(),
        ) from exc
    fn = getattr(module, func_name, None)
    if fn is None or not callable(fn):
        what = "has no function" if fn is None else "has a non-callable"
        raise CallError(
            "import", f"step {spec['label']!r}: module {module_name!r} {what} {func_name!r}"
        )
    return fn


def _shadowed(module_name: str, cwd: str) -> str:
    """Why the repo's own folder was not imported, when another package of its name was:
    a folder without ``__init__.py`` is a namespace package, which any regular
    package of that name on ``sys.path`` wins over (the standard library's ``test``)."""
    top = module_name.split(".")[0]
    folder = os.path.realpath(os.path.join(cwd, top))
    found = getattr(sys.modules.get(top), "__file__", None)
    if not found or not os.path.isdir(folder):
        return ""
    if os.path.realpath(found).startswith(folder + os.sep):
        return ""
    return (
        f"; {top!r} is {found}, not the repo's folder {top}/ (a folder without "
        f"__init__.py is a namespace package, which that package shadows): add "
        f"{top}/__init__.py or rename the folder"
    )


def _function_shape(fn: Any) -> tuple[list[str], list[str], list[str], bool]:
    """(accepted keyword names, required names, required positional-only names, has **kwargs)."""
    code = getattr(fn, "__code__", None)
    if type(fn) is type(_function_shape) and code is not None and not hasattr(fn, "__wrapped__"):
        nargs, nkw, nposonly = code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount
        names = list(code.co_varnames[: nargs + nkw])
        n_required_pos = nargs - len(fn.__defaults__ or ())
        kwdefaults = fn.__kwdefaults__ or {}
        required = names[:n_required_pos] + [n for n in names[nargs:] if n not in kwdefaults]
        posonly = names[: min(nposonly, n_required_pos)]
        return names[nposonly:], required, posonly, bool(code.co_flags & _CO_VARKEYWORDS)
    return _inspect_shape(fn)


def _inspect_shape(fn: Any) -> tuple[list[str], list[str], list[str], bool]:
    """:func:`_function_shape` for decorated functions, classes and other callables."""
    import inspect

    kinds = inspect.Parameter
    params = list(inspect.signature(fn).parameters.values())
    keyword = (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
    accepted = [p.name for p in params if p.kind in keyword]
    required = [p.name for p in params if p.default is kinds.empty and p.kind in keyword]
    posonly = [
        p.name for p in params if p.kind is kinds.POSITIONAL_ONLY and p.default is kinds.empty
    ]
    return accepted, required, posonly, any(p.kind is kinds.VAR_KEYWORD for p in params)


def _arguments(spec: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(spec["params"])
    paths = {**spec["inputs"], **spec["outputs"]}
    clash = sorted(set(kwargs) & set(paths) | set(spec["inputs"]) & set(spec["outputs"]))
    if clash:
        names = ", ".join(repr(n) for n in clash)
        raise CallError(
            "signature", f"{_where(spec)}: {names} given more than once (params/deps/outs)"
        )
    if paths:
        from pathlib import Path

        kwargs.update((name, Path(p)) for name, p in paths.items())
    return kwargs


def _check_signature(fn: Any, kwargs: dict[str, Any], spec: dict[str, Any]) -> None:
    try:
        accepted, required, posonly, var_kw = _function_shape(fn)
    except (TypeError, ValueError):
        return  # builtins without a signature: let the call itself complain
    problems = []
    unexpected = [] if var_kw else [n for n in kwargs if n not in accepted]
    missing = [n for n in required if n not in kwargs]
    if unexpected:
        problems.append(f"the manifest passes {_names(unexpected)}, which it does not accept")
    if missing:
        problems.append(f"it requires {_names(missing)}, which the manifest does not set")
    if posonly:
        problems.append(f"{_names(posonly)} positional-only (steps get keyword arguments)")
    if problems:
        takes = ", ".join(accepted) or "no keyword arguments"
        raise CallError("signature", f"{_where(spec)}: {'; '.join(problems)} (it takes: {takes})")


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _metrics(value: Any, spec: dict[str, Any]) -> dict[str, float]:
    """The metrics in a step's return value: ``None`` or a dict's numeric entries.

    Anything else is noted in the step's log and ignored: the step's work is
    done, and failing it now would throw that work away.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        _note(spec, f"returned {type(value).__name__}, not a dict of metrics: ignored")
        return {}
    metrics = {}
    for key, number in value.items():
        if not isinstance(key, str):
            _note(spec, f"returned a metric key {key!r} that is not text: ignored")
            continue
        if not isinstance(number, (int, float)):  # not `|`: runs on 3.8
            import numbers  # numpy scalars are registered as numbers.Real

            if not isinstance(number, numbers.Real):
                kind = type(number).__name__
                _note(spec, f"returned {key!r}: {kind}, not a number: not logged as a metric")
                continue
        try:
            metrics[key] = float(number)
        except OverflowError:
            _note(spec, f"metric {key!r} is too large for a float: not logged")
    return metrics


def _note(spec: dict[str, Any], text: str) -> None:
    sys.stderr.write(f"mlrecipes: note: {_where(spec)} {text}\n")


def _format_tb() -> str:
    """The current exception's traceback without the runner's own frame."""
    import traceback

    exc_type, exc, tb = sys.exc_info()
    if tb is not None and tb.tb_next is not None:
        tb = tb.tb_next  # the first frame is `_call` itself: not the user's code
    return "".join(traceback.format_exception(exc_type, exc, tb))


def _last_line(tb: str) -> str:
    lines = [line for line in tb.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _debug(pdb_mode: bool) -> None:
    if pdb_mode:
        import pdb

        pdb.post_mortem(sys.exc_info()[2])


def _call(spec: dict[str, Any], pdb_mode: bool) -> tuple[int, dict[str, float]]:
    """Bind, call and check; returns the exit code (errors go to stderr and the result)."""
    result = spec["result"]
    observer = None
    try:
        _set_path(spec["cwd"])
        if spec.get("observe"):
            observer = _Observer(spec["observe"]["roots"])
            sys.addaudithook(observer.hook)
        fn = _load_function(spec)
        kwargs = _arguments(spec)
        _check_signature(fn, kwargs, spec)
        for out in spec["outputs"].values():
            os.makedirs(os.path.dirname(out), exist_ok=True)
    except CallError as exc:
        sys.stderr.write((exc.tb or "") + f"mlrecipes: {exc.message}\n")
        _write_error(result, exc.kind, exc.message, exc.tb)
        _debug(pdb_mode and exc.tb is not None)
        return EXIT_CALL_ERROR, {}
    try:
        value = fn(**kwargs)
    except (Exception, SystemExit):  # a step calling sys.exit() has failed too
        tb = _format_tb()
        sys.stderr.write(tb)
        _write_error(result, "raised", _last_line(tb), tb)
        _debug(pdb_mode)
        return EXIT_RAISED, {}
    if observer is not None:
        _write_observed(spec["observe"]["record"], observer.report())
    return EXIT_OK, _metrics(value, spec)


def main(argv: list[str] | None = None) -> int:
    """Run the spec named on the command line; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    pdb_mode = "--pdb" in args
    files = [a for a in args if a != "--pdb"]
    if len(files) != 1:
        sys.stderr.write("usage: step_runner.py SPEC.json [--pdb]\n")
        return EXIT_CALL_ERROR
    with open(files[0], encoding="utf-8") as fh:
        spec = loads(fh.read())
    # The spec holds secrets in clear: it lives only until the step has read it.
    try:  # noqa: SIM105 - the runner imports as little as it can (no contextlib, no pathlib)
        os.unlink(files[0])  # noqa: PTH108
    except OSError:
        pass
    if spec.get("version") != SPEC_VERSION:
        sys.stderr.write(f"mlrecipes: runner spec version {spec.get('version')!r} unsupported\n")
        return EXIT_CALL_ERROR
    code, metrics = _call(spec, pdb_mode)
    if code == EXIT_OK:
        _write_ok(spec["result"], metrics)
    return code


if __name__ == "__main__":
    sys.exit(main())
