"""Test a step without a process or an engine: call a kernel function under plain Python (``pytest``) with
a recording context, which records what it emits and logs and answers what it asks (configuration
values, secrets, HTTP responses)::

    from weft_step.testing import invoke

    out = invoke(Greeter, "greet", {"name": "Ada"}, config={"greeting": "Hello"})
    assert out.result == "Hello, Ada!"
    assert out.state == {"greeted": 1}
    assert out.events[0].type == "Greeted"

The function runs exactly as in a component (the same argument decoding, state handling and migration),
but outside the sandbox: its limits, redaction and determinism are the engine's. ``weft invoke`` runs a
built component in the real sandbox.
"""

import dataclasses
import json

from weft_step import Failure, Response, StepError, invoke as _invoke

__all__ = ["Event", "Invoked", "Request", "Response", "StepError", "invoke"]


@dataclasses.dataclass
class Event:
    """An event a kernel function emitted: ``type``, ``data`` (parsed JSON), ``public``."""

    type: str
    data: object
    public: bool


@dataclasses.dataclass
class Request:
    """An HTTP request a kernel function sent: ``method``, ``url``, ``headers`` (pairs), ``body`` (bytes)."""

    method: str
    url: str
    headers: list
    body: object


@dataclasses.dataclass
class Invoked:
    """What one call gave: ``result`` and ``state`` (parsed JSON; ``None`` for none), ``events``,
    ``logs`` (``(level, message)`` pairs), ``requests``."""

    result: object
    state: object
    events: list
    logs: list
    requests: list


class _Recorder:
    def __init__(self, config, secrets, http, invocation_id):
        self._config = dict(config or {})
        self._secrets = dict(secrets or {})
        self._answers = list(http or [])
        self._invocation_id = invocation_id
        self.events, self.logs, self.requests = [], [], []

    def emit(self, event_type, data, public):
        # The engine's rule (it stops the invocation): an event type is not empty and not its own.
        if not event_type or event_type.endswith((".OnResult", ".OnError")):
            raise Failure(f"emitted {event_type!r}: an empty type, or a name ending in .OnResult or .OnError (the engine's own)")
        self.events.append(Event(event_type, json.loads(data), public))

    def log(self, level, message):
        self.logs.append((level, message))

    def invocation_id(self):
        return self._invocation_id

    def config(self, name):
        return self._config.get(name)

    def secret(self, name):
        if name not in self._secrets:
            raise Failure(f"the step was not granted secret {name!r} (invoke(..., secrets={{...}}) gives it)")
        return self._secrets[name]

    def http(self, method, url, headers, body):
        self.requests.append(Request(method, url, headers, body))
        if not self._answers:
            raise Failure(f"HTTP request not allowed: no answer left for {method} {url} (invoke(..., http=[...]) gives one)")
        return self._answers.pop(0)


def invoke(step_class, function, args=None, *, state=None, state_version=None, config=None, secrets=None,
           http=None, invocation_id="test:step:1") -> Invoked:
    """Call kernel function ``function`` of ``step_class`` with ``args`` (a dict by parameter name) and
    ``state`` (parsed JSON; ``None``: the step's initial state), written under ``state_version`` (default:
    the step's own). ``config`` and ``secrets`` are dicts; ``http`` a list of :class:`Response`, given in
    order to the requests the function sends. Raises :class:`StepError` as the engine would receive it."""
    recorder = _Recorder(config, secrets, http, invocation_id)
    version = step_class.state_version if state_version is None else state_version
    pairs = [(name, json.dumps(value, allow_nan=False)) for name, value in (args or {}).items()]
    snapshot = None if state is None else json.dumps(state, allow_nan=False)
    result, new_state = _invoke(step_class, recorder, function, pairs, snapshot, version)
    return Invoked(
        None if result is None else json.loads(result),
        None if new_state is None else json.loads(new_state),
        recorder.events,
        recorder.logs,
        recorder.requests,
    )
