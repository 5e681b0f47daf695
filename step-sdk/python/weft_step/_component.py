"""The component side of the SDK: the ``weft:step/kernel`` export and the host calls, through the bindings
componentize-py generates from the WIT (``wit_world``). Imported only inside a component build; tests use
:mod:`weft_step.testing` instead."""

import gc

from componentize_py_types import Err
from wit_world.imports import config as _config
from wit_world.imports import events as _events
from wit_world.imports import http as _http
from wit_world.imports import invocation as _invocation
from wit_world.imports import logging as _logging
from wit_world.imports import secrets as _secrets
from wit_world.imports import types as _wit

import weft_step as _sdk

_HTTP_ERRORS = {"NotAllowed": "not allowed", "Timeout": "timed out", "TooLarge": "response too large"}


class _Host:
    """What a :class:`weft_step.Context` calls in a component: the engine's imports."""

    def emit(self, event_type, data, public):
        _events.emit(event_type, data, _wit.Visibility.PUBLIC if public else _wit.Visibility.INTERNAL)

    def log(self, level, message):
        _logging.log(getattr(_logging.LogLevel, level.upper()), message)

    def invocation_id(self):
        return _invocation.invocation_id()

    def config(self, name):
        return _config.get(name)

    def secret(self, name):
        try:
            return _secrets.get(name)
        except Err as e:
            raise _sdk.Failure(e.value) from None

    def http(self, method, url, headers, body):
        try:
            r = _http.send(_http.Request(method=method, url=url, headers=headers, body=body))
        except Err as e:
            kind = type(e.value).__name__.split("_")[-1]
            raise _sdk.Failure(f"HTTP request {_HTTP_ERRORS.get(kind, 'failed')}: {e.value.value}") from None
        return _sdk.Response(r.status, r.headers, bytes(r.body))


_HOST = _Host()


def _wit_error(e):
    if e.kind == "unknown-function":
        return _wit.StepError_UnknownFunction(e.message)
    if e.kind == "bad-argument":
        return _wit.StepError_BadArgument(_wit.ArgumentError(e.parameter, e.message))
    if e.kind == "bad-state":
        return _wit.StepError_BadState(e.message)
    return _wit.StepError_Failed(e.message)


def kernel(step_class):
    """The ``Kernel`` class componentize-py exports for ``step_class``.

    Every object made so far (the interpreter's, the SDK's, the step module's) is frozen out of the garbage
    collector's reach (``gc.freeze``): componentize-py snapshots the component after importing the step,
    so each instance starts with them frozen, and the collections an invocation's allocations trigger
    look at the invocation's objects only, not again at the tens of thousands made at start-up.

    Before that, the work an instance's first invocation would otherwise do once is done here, inside the
    snapshot: the step's kernel functions are read (their signatures and type hints, through ``inspect``
    and ``typing``), and a default state is made, written as JSON and read back (the interpreter's first
    pass through ``dataclasses`` and ``json``). In food delivery this was ~0.6 ms and ~0.3 ms of each
    Python step's first invocation. A step whose functions or default state cannot be made is left to fail
    where it did before, in ``describe`` or ``invoke``, with the SDK's message."""
    try:
        _sdk.describe(step_class)
        if step_class.State is not None:
            default = _sdk._to_json(_sdk._load_state(step_class.State, None), "state")
            _sdk._load_state(step_class.State, default)
    except Exception:
        pass
    gc.freeze()

    class Kernel:
        def describe(self) -> _wit.StepInfo:
            info = _sdk.describe(step_class)
            return _wit.StepInfo(
                functions=[
                    _wit.FunctionInfo(
                        name=f["name"],
                        description=f["description"],
                        params=[_wit.ParamInfo(name=p["name"], required=p["required"], schema=p["schema"]) for p in f["params"]],
                    )
                    for f in info["functions"]
                ],
                events=[_wit.EventInfo(name=e["name"], description=e["description"]) for e in info["events"]],
                state_version=info["stateVersion"],
            )

        def invoke(self, call: _wit.Invocation) -> _wit.Outcome:
            try:
                result, state = _sdk.invoke(step_class, _HOST, call.function, call.args, call.state, call.state_version)
            except _sdk.StepError as e:
                raise Err(_wit_error(e))
            return _wit.Outcome(result=result, state=state)

    return Kernel
