// Test a step without a process or an engine: call a kernel function under Node (`node --test`) with a
// recording context, which records what it emits and logs and answers what it asks (configuration values,
// secrets, HTTP responses).
//
//   import { invoke } from "weft-step/testing";
//   import { kernel } from "./app.js";
//   const out = invoke(kernel, "greet", { name: "Ada" }, { config: { greeting: "Hello" } });
//   assert.equal(out.result, "Hello, Ada!");
//   assert.deepEqual(out.state, { greeted: 1 });
//   assert.equal(out.events[0].type, "Greeted");
//
// The function runs exactly as in a component (the same argument checks, state handling and migration),
// but outside the sandbox: its limits, redaction and determinism are the engine's. `weft invoke` runs a
// built component in the real sandbox.

import { Response, setHost } from "weft-step";

export { Response };

/** Why a call failed, as the engine receives it: `kind` (unknown-function, bad-argument, bad-state, failed), `message`, `parameter`. */
export class StepError extends Error {
  constructor(kind, message, parameter) {
    super(`${kind}: ${parameter ? `${parameter}: ` : ""}${message}`);
    this.kind = kind;
    this.parameter = parameter;
  }
}

/**
 * Call kernel function `fn` of `kernel` (what `defineStep` gave) with `args` (an object by parameter name).
 * Options: `state` (parsed JSON; default the step's initial state), `stateVersion` (default the step's
 * own), `config` and `secrets` (objects), `http` (a list of `Response`, given in order to the requests
 * sent), `invocationId`. Returns `{ result, state, events: [{ type, data, public }], logs: [[level,
 * message]], requests: [{ method, url, headers, body }] }`; throws a `StepError`.
 */
export function invoke(kernel, fn, args = {}, options = {}) {
  const { state, stateVersion, config = {}, secrets = {}, http = [], invocationId = "test:step:1" } = options;
  const events = [];
  const logs = [];
  const requests = [];
  const answers = [...http];
  setHost({
    emit: (type, data, visibility) => {
      // The engine's rule (it stops the invocation): an event type is not empty and not its own.
      if (!type || type.endsWith(".OnResult") || type.endsWith(".OnError")) {
        throw new Error(`emitted ${JSON.stringify(type)}: an empty type, or a name ending in .OnResult or .OnError (the engine's own)`);
      }
      events.push({ type, data: JSON.parse(data), public: visibility === "public" });
    },
    log: (level, message) => logs.push([level, message]),
    invocationId: () => invocationId,
    configGet: (name) => (Object.hasOwn(config, name) ? config[name] : undefined),
    secretGet: (name) => {
      if (!Object.hasOwn(secrets, name)) {
        throw { payload: `the step was not granted secret ${JSON.stringify(name)} (invoke(..., { secrets }) gives it)` };
      }
      return secrets[name];
    },
    send: (request) => {
      requests.push(request);
      const answer = answers.shift();
      if (!answer) throw { payload: { tag: "not-allowed", val: `no answer left for ${request.method} ${request.url} (invoke(..., { http }) gives one)` } };
      return answer;
    },
  });
  let outcome;
  try {
    outcome = kernel.invoke({
      function: fn,
      args: Object.entries(args).map(([name, value]) => [name, JSON.stringify(value)]),
      state: state === undefined ? undefined : JSON.stringify(state),
      stateVersion: stateVersion ?? kernel.describe().stateVersion,
    });
  } catch (e) {
    if (e && typeof e === "object" && "tag" in e) {
      const detail = typeof e.val === "object" ? e.val : { message: e.val };
      throw new StepError(e.tag, detail.message, detail.parameter);
    }
    throw e;
  } finally {
    setHost(null);
  }
  const parse = (text) => (text === undefined || text === null ? undefined : JSON.parse(text));
  return { result: parse(outcome.result), state: parse(outcome.state), events, logs, requests };
}
