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

from componentize_py_types import Err
from wit_world.imports import config as _config
from wit_world.imports import events as _events
from wit_world.imports import http as _http
from wit_world.imports import invocation as _invocation
from wit_world.imports import logging as _logging
from wit_world.imports import secrets as _secrets
from wit_world.imports import types as _wit

__all__ = ["Context", "Failure", "Response", "Step", "kernel_function", "export"]


class Failure(Exception):
    """A business failure of a kernel function, e.g. ``Failure("the kitchen is closed")``."""


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
    grants the step (configuration values, secrets, outbound HTTP)."""

    def emit(self, event_type: str, data=None) -> None:
        """Emit an internal event, routed in the next superstep to the edges listening to it."""
        _events.emit(event_type, json.dumps(data, allow_nan=False), _wit.Visibility.INTERNAL)

    def emit_public(self, event_type: str, data=None) -> None:
        """Emit a public event: routed like :meth:`emit` and also published outside the process."""
        _events.emit(event_type, json.dumps(data, allow_nan=False), _wit.Visibility.PUBLIC)

    def log(self, message: str, level: str = "info") -> None:
        """Write a log line (``trace``, ``debug``, ``info``, ``warn`` or ``error``)."""
        _logging.log(getattr(_logging.LogLevel, level.upper(), _logging.LogLevel.INFO), message)

    def invocation_id(self) -> str:
        """This invocation's id, ``<instance>:<step>:<n>``: the same when the superstep is re-run after a
        crash, so pass it to an outside system as an idempotency key."""
        return _invocation.invocation_id()

    def config(self, name: str):
        """The configuration value ``name`` the definition gives this step (``capabilities.config``), or
        ``None``."""
        return _config.get(name)

    def secret(self, name: str) -> str:
        """The secret ``name`` granted to this step (``capabilities.secrets``); Weft redacts its value from
        the step's output. Raises :class:`Failure` when the step was not granted it."""
        try:
            return _secrets.get(name)
        except Err as e:
            raise Failure(e.value) from None

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
        try:
            r = _http.send(_http.Request(method=method, url=url, headers=pairs, body=body))
        except Err as e:
            kind = type(e.value).__name__.split("_")[-1]
            raise Failure(f"HTTP request {_HTTP_ERRORS.get(kind, 'failed')}: {e.value.value}") from None
        return Response(r.status, r.headers, bytes(r.body))


_HTTP_ERRORS = {"NotAllowed": "not allowed", "Timeout": "timed out", "TooLarge": "response too large"}


class Step:
    """Base class of a step. ``self.state`` holds the state for the current invocation."""

    #: A dataclass whose fields are the state, or ``None`` for a stateless step.
    State = None
    #: Version of the state layout.
    state_version = 1

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
        raise Err(_wit.StepError_Failed(f"cannot serialise the {what}: {e}"))


def export(step_class):
    """The ``Kernel`` class (the ``weft:step/kernel`` interface) componentize-py exports for ``step_class``."""
    functions = {}
    for attr in dir(step_class):
        method = getattr(step_class, attr)
        name = getattr(method, "_weft_kernel_function", None)
        if name is not None:
            functions[name] = _Function(name, method)
    order = sorted(functions.values(), key=lambda f: f.method.__code__.co_firstlineno)

    class Kernel:
        def describe(self) -> _wit.StepInfo:
            return _wit.StepInfo(
                functions=[
                    _wit.FunctionInfo(
                        name=f.name,
                        description=f.description,
                        params=[_wit.ParamInfo(name=p.name, required=p.required, schema=p.schema()) for p in f.params],
                    )
                    for f in order
                ],
                state_version=step_class.state_version,
            )

        def invoke(self, call: _wit.Invocation) -> _wit.Outcome:
            function = functions.get(call.function)
            if function is None:
                raise Err(_wit.StepError_UnknownFunction(call.function))
            try:
                step = step_class()
            except Exception as e:
                raise Err(_wit.StepError_Failed(f"cannot create the step: {type(e).__name__}: {e}"))
            step.state = _load_state(step_class.State, _migrated(step_class, call.state, call.state_version))
            given = dict(call.args)
            kwargs = {}
            for p in function.params:
                if p.name not in given:
                    if p.required:
                        raise Err(_wit.StepError_BadArgument(_wit.ArgumentError(p.name, "missing required argument")))
                    continue
                try:
                    kwargs[p.name] = p.decode(given[p.name])
                except Exception as e:
                    raise Err(_wit.StepError_BadArgument(_wit.ArgumentError(p.name, str(e))))
            if function.context_param is not None:
                kwargs[function.context_param] = Context()
            try:
                result = function.method(step, **kwargs)
            except Err:
                raise
            except Failure as e:
                raise Err(_wit.StepError_Failed(str(e)))
            except Exception as e:
                raise Err(_wit.StepError_Failed(f"{type(e).__name__}: {e}"))
            state = None if step_class.State is None else _to_json(step.state, "state")
            return _wit.Outcome(result=None if result is None else _to_json(result, "result"), state=state)

    return Kernel


def _migrated(step_class, snapshot, version):
    """The snapshot in this step's state layout: as given, or migrated from an older version."""
    if snapshot is None or version == step_class.state_version:
        return snapshot
    if version > step_class.state_version:
        raise Err(
            _wit.StepError_BadState(
                f"the state snapshot is of state version {version}, newer than the version "
                f"{step_class.state_version} this step reads"
            )
        )
    try:
        return json.dumps(step_class.migrate(version, json.loads(snapshot)), allow_nan=False)
    except Exception as e:
        raise Err(_wit.StepError_BadState(f"cannot migrate the state snapshot from version {version}: {e}"))


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
        raise Err(_wit.StepError_BadState(f"cannot read the state snapshot: {type(e).__name__}: {e}"))
