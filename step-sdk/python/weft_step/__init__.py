"""Write a Weft step component in Python.

A step is a class deriving from :class:`Step`, with a ``State`` dataclass (or ``State = None`` for a
stateless step) and kernel functions marked :func:`kernel_function`. Parameters are described from the
type annotations (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, a dataclass, or any of those
``| None``); a parameter with a default, or one that may be ``None``, is optional. ``ctx: Context`` receives the step context. Raising
an exception fails the invocation and leaves the state as it was. The module exports the step with
``Kernel = export(MyStep)``; build it with componentize-py against ``wit/step.wit`` (see README.md).

Example::

    @dataclass
    class RepeatState:
        times: int = 0

    class Repeat(Step):
        State = RepeatState

        @kernel_function
        def repeat(self, ctx: Context, message: str, count: int | None = None) -> str:
            text = " ".join([message] * (count if count is not None else self.state.times))
            ctx.emit_public("Repeated", text)
            return text

    Kernel = export(Repeat)
"""

import dataclasses
import inspect
import json
import types
import typing

__all__ = ["Context", "Failure", "Response", "Step", "StepError", "kernel_function", "export"]


class Failure(Exception):
    """A business failure of a kernel function, e.g. ``Failure("the kitchen is closed")``."""


class StepError(Exception):
    """Why a call failed, as the engine receives it: ``kind`` is ``unknown-function``, ``bad-argument``
    (``parameter`` names which), ``bad-state`` or ``failed``; ``message`` says why."""

    def __init__(self, kind: str, message: str, parameter=None):
        super().__init__(f"{kind}: {parameter + ': ' if parameter else ''}{message}")
        self.kind = kind
        self.message = message
        self.parameter = parameter


class Response:
    """An HTTP response, whatever its status: ``status``, ``headers`` (a list of ``(name, value)``),
    ``body`` (bytes)."""

    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str):
        """The first header named ``name`` (case-insensitive), or ``None``."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body as JSON."""
        return json.loads(self.body)

    def ok(self) -> "Response":
        """This response if its status is 2xx; else raises :class:`Failure` with the status."""
        if 200 <= self.status < 300:
            return self
        raise Failure(f"HTTP {self.status}: {self.text()[:200]}")


class Context:
    """What a kernel function can do besides returning: emit events, log, and use what the definition
    grants the step (configuration values, secrets, outbound HTTP). In a component it calls the engine;
    under :mod:`weft_step.testing` it records instead."""

    def __init__(self, host):
        self._host = host

    def emit(self, event_type: str, data=None) -> None:
        """Emit an internal event, routed in the next superstep to the edges listening to it."""
        self._host.emit(event_type, json.dumps(data, allow_nan=False), False)

    def emit_public(self, event_type: str, data=None) -> None:
        """Emit a public event: routed like :meth:`emit` and also published outside the process."""
        self._host.emit(event_type, json.dumps(data, allow_nan=False), True)

    def log(self, message: str, level: str = "info") -> None:
        """Write a log line (``trace``, ``debug``, ``info``, ``warn`` or ``error``)."""
        self._host.log(level if level in _LEVELS else "info", message)

    def invocation_id(self) -> str:
        """This invocation's id, ``<instance>:<step>:<n>``: the same when the superstep is re-run after a
        crash, so pass it to an outside system as an idempotency key."""
        return self._host.invocation_id()

    def config(self, name: str):
        """The configuration value ``name`` the definition gives this step (``capabilities.config``), or
        ``None``."""
        return self._host.config(name)

    def secret(self, name: str) -> str:
        """The secret ``name`` granted to this step (``capabilities.secrets``); Weft redacts its value from
        the step's output. Raises :class:`Failure` when the step was not granted it."""
        return self._host.secret(name)

    def http(self, method: str, url: str, headers=None, body=None, json_body=None) -> Response:
        """Send an HTTP request to an origin the definition allows (``capabilities.http``) and return the
        :class:`Response`. ``headers``: a dict or a list of pairs; ``body``: bytes or text;
        ``json_body``: any JSON value (sets ``content-type``). Raises :class:`Failure` when the origin is
        not allowed, the request times out or fails, or the response is too large."""
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False)
            pairs.append(("content-type", "application/json"))
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self._host.http(method, url, pairs, body)


_LEVELS = ("trace", "debug", "info", "warn", "error")


class Step:
    """Base class of a step. ``self.state`` holds the state for the current invocation."""

    #: A dataclass whose fields are the state, or ``None`` for a stateless step.
    State = None
    #: Version of the state layout.
    state_version = 1
    #: The events the step declares it emits: names, or a dict of name to a one-line description.
    #: ``weft describe`` lists them; ``weft validate`` warns about an edge on an event not among them.
    events = ()

    @classmethod
    def migrate(cls, from_version: int, state):
        """Turn a snapshot (parsed JSON) written under the older state version ``from_version`` into this
        version's layout. Override it when you raise ``state_version``; by default older snapshots are refused."""
        raise Failure(
            f"the state snapshot is of state version {from_version} and this step reads version "
            f"{cls.state_version} and has no migration; override Step.migrate or set the definition's stateVersion"
        )


def kernel_function(fn=None, *, name=None):
    """Mark a method as a kernel function (optionally under another ``name``)."""

    def mark(f):
        f._weft_kernel_function = name or f.__name__
        return f

    return mark(fn) if fn is not None else mark


_SCHEMAS = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


class _Param:
    def __init__(self, name, annotation, has_default):
        self.name = name
        self.type = _strip_optional(annotation)
        # Like Rust's Option<T>: a parameter that may be None is optional, as is one with a default.
        self.required = not has_default and self.type is annotation

    def schema(self):
        kind = _SCHEMAS.get(typing.get_origin(self.type) or self.type)
        if kind is None and dataclasses.is_dataclass(self.type):
            kind = "object"
        return None if kind is None else json.dumps({"type": kind})

    def decode(self, text):
        value = json.loads(text)
        if value is None and not self.required:
            return None
        expected = typing.get_origin(self.type) or self.type
        if dataclasses.is_dataclass(expected):
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {type(value).__name__}")
            return expected(**value)
        if expected in _SCHEMAS:
            fits = isinstance(value, expected) and not (expected in (int, float) and isinstance(value, bool))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                return float(value)
            if not fits:
                raise TypeError(f"expected {_SCHEMAS[expected]}, got {type(value).__name__}")
        return value


def _strip_optional(annotation):
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


class _Function:
    def __init__(self, name, method):
        self.name = name
        self.method = method
        doc = inspect.getdoc(method) or ""
        self.description = doc.strip().splitlines()[0] if doc.strip() else None
        hints = typing.get_type_hints(method)
        self.context_param = None
        self.params = []
        for p in list(inspect.signature(method).parameters.values())[1:]:
            annotation = hints.get(p.name, typing.Any)
            if annotation is Context:
                self.context_param = p.name
                continue
            self.params.append(_Param(p.name, annotation, p.default is not inspect.Parameter.empty))


def _to_json(value, what):
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise StepError("failed", f"cannot serialise the {what}: {e}")


_DESCRIBED = {}


def _functions(step_class):
    """The step's kernel functions by name, and in declaration order (worked out once per class)."""
    known = _DESCRIBED.get(step_class)
    if known is None:
        known = _DESCRIBED[step_class] = _describe_functions(step_class)
    return known


def _describe_functions(step_class):
    functions = {}
    for attr in dir(step_class):
        method = getattr(step_class, attr)
        name = getattr(method, "_weft_kernel_function", None)
        if name is not None:
            functions[name] = _Function(name, method)
    return functions, sorted(functions.values(), key=lambda f: f.method.__code__.co_firstlineno)


def describe(step_class) -> dict:
    """What the step offers, as ``weft describe`` prints it: ``{"functions": [{"name", "description",
    "params": [{"name", "required", "schema"}]}], "events": [{"name", "description"}], "stateVersion"}``
    (schemas as JSON text)."""
    _, order = _functions(step_class)
    return {
        "functions": [
            {
                "name": f.name,
                "description": f.description,
                "params": [{"name": p.name, "required": p.required, "schema": p.schema()} for p in f.params],
            }
            for f in order
        ],
        "events": [{"name": name, "description": about} for name, about in _events(step_class.events)],
        "stateVersion": step_class.state_version,
    }


def _events(declared):
    """``(name, description)`` pairs of a step's ``events``."""
    if isinstance(declared, dict):
        return [(name, about) for name, about in declared.items()]
    return [(name, None) for name in declared]


def invoke(step_class, host, function_name: str, args, state, state_version: int):
    """Run kernel function ``function_name`` of ``step_class`` with ``args`` (``(name, JSON text)``
    pairs) and ``state`` (JSON text or ``None``, written under ``state_version``), its context calling
    ``host``. Returns ``(result, state)`` as JSON text (``None`` for none). Raises :class:`StepError`."""
    functions, _ = _functions(step_class)
    function = functions.get(function_name)
    if function is None:
        raise StepError("unknown-function", function_name)
    try:
        step = step_class()
    except Exception as e:
        raise StepError("failed", f"cannot create the step: {type(e).__name__}: {e}")
    step.state = _load_state(step_class.State, _migrated(step_class, state, state_version))
    given = dict(args)
    kwargs = {}
    for p in function.params:
        if p.name not in given:
            if p.required:
                raise StepError("bad-argument", "missing required argument", p.name)
            continue
        try:
            kwargs[p.name] = p.decode(given[p.name])
        except Exception as e:
            raise StepError("bad-argument", str(e), p.name)
    if function.context_param is not None:
        kwargs[function.context_param] = Context(host)
    try:
        result = function.method(step, **kwargs)
    except StepError:
        raise
    except Failure as e:
        raise StepError("failed", str(e))
    except Exception as e:
        raise StepError("failed", f"{type(e).__name__}: {e}")
    new_state = None if step_class.State is None else _to_json(step.state, "state")
    return (None if result is None else _to_json(result, "result")), new_state


def export(step_class):
    """The ``Kernel`` class (the ``weft:step/kernel`` interface) componentize-py exports for ``step_class``.
    Under plain Python (tests, where there is no engine) it is a class whose methods say so."""
    if _component is None:

        class Kernel:
            def describe(self, *_):
                raise RuntimeError("weft_step: not in a component; test steps with weft_step.testing")

            invoke = describe

        return Kernel
    return _component.kernel(step_class)


def _migrated(step_class, snapshot, version):
    """The snapshot in this step's state layout: as given, or migrated from an older version."""
    if snapshot is None or version == step_class.state_version:
        return snapshot
    if version > step_class.state_version:
        raise StepError(
            "bad-state",
            f"the state snapshot is of state version {version}, newer than the version "
            f"{step_class.state_version} this step reads",
        )
    try:
        return json.dumps(step_class.migrate(version, json.loads(snapshot)), allow_nan=False)
    except Exception as e:
        raise StepError("bad-state", f"cannot migrate the state snapshot from version {version}: {e}")


def _load_state(state_class, snapshot):
    """The state for one invocation: the snapshot's fields over the dataclass's defaults; fields the
    dataclass does not declare are ignored (as serde does in Rust)."""
    if state_class is None:
        return None
    try:
        if snapshot is None:
            return state_class()
        fields = json.loads(snapshot)
        if not isinstance(fields, dict):
            raise TypeError(f"expected an object, got {type(fields).__name__}")
        known = {f.name for f in dataclasses.fields(state_class)}
        return state_class(**{k: v for k, v in fields.items() if k in known})
    except Exception as e:
        raise StepError("bad-state", f"cannot read the state snapshot: {type(e).__name__}: {e}")


# The engine's imports exist only inside a component (componentize-py generates `wit_world`); under plain
# Python the SDK still loads, and weft_step.testing supplies a recording host.
try:
    from weft_step import _component
except ModuleNotFoundError as e:
    if not (e.name or "").startswith(("wit_world", "componentize_py")):
        raise
    _component = None
