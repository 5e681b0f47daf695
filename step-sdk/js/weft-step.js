// Write a Weft step component in JavaScript.
//
// A step module exports `kernel` (the weft:step/kernel interface: `describe` and `invoke`), made by
// `defineStep`:
//
//   import { defineStep, kernelFunction, Failure } from "weft-step";
//   export const kernel = defineStep({
//     state: () => ({ times: 0 }),           // initial state (a snapshot's missing fields default to it);
//                                            // leave out for a stateless step
//     functions: {
//       repeat: kernelFunction({ message: "string", count: "integer?" }, (ctx, state, { message, count }) => {
//         const text = Array(count ?? state.times).fill(message).join(" ");
//         ctx.emitPublic("Repeated", text);
//         return text;
//       }, "Repeat a message."),
//     },
//   });
//
// Parameter types: string, integer, number, boolean, array, object, any; a trailing `?` makes the parameter
// optional. Throwing fails the invocation and leaves the state as it was. Build with
// `node step-sdk/js/build.mjs app.js out.wasm` (componentize-qjs against wit/step.wit).

// The engine's imports reach this module through `setHost` (build.mjs's entry module installs them), so
// that the module also loads under Node, where `weft-step/testing` installs a recording host instead.
let host = null;

/**
 * Install what `Context` calls: `{ emit(type, json, visibility), log(level, message), invocationId(),
 * configGet(name), secretGet(name), send(request) }` with the WIT imports' shapes. Used by the build's entry
 * module and by `weft-step/testing`; not by steps.
 */
export function setHost(h) {
  host = h;
}

function engine() {
  if (host === null) throw new Error("weft-step: no host: build the step with `weft build`, or test it with weft-step/testing");
  return host;
}

/** A business failure of a kernel function, e.g. `throw new Failure("no driver is free")`. */
export class Failure extends Error {}

/** An HTTP response, whatever its status: `status`, `headers` (`[name, value]` pairs), `body` (bytes). */
export class Response {
  constructor(status, headers, body) {
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  /** The first header named `name` (case-insensitive), or undefined. */
  header(name) {
    return this.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
  }

  /** The body as text. */
  text() {
    return utf8Decode(this.body);
  }

  /** The body as JSON. */
  json() {
    return JSON.parse(this.text());
  }

  /** This response if its status is 2xx; else throws a `Failure` with the status. */
  ok() {
    if (this.status >= 200 && this.status < 300) return this;
    throw new Failure(`HTTP ${this.status}: ${this.text().slice(0, 200)}`);
  }
}

// QuickJS has no console: `console.log` and friends write Weft log lines (`error`/`warn` at their level,
// the rest at `info`), so that code written for Node or a browser logs where the step's logs go.
if (typeof globalThis.console === "undefined") {
  const line = (level) => (...args) =>
    engine().log(level, args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
  globalThis.console = { log: line("info"), info: line("info"), debug: line("debug"), warn: line("warn"), error: line("error") };
}

const HTTP_ERRORS = { "not-allowed": "not allowed", timeout: "timed out", "too-large": "response too large" };

/**
 * What a kernel function can do besides returning: emit events, log, and use what the definition grants
 * the step (configuration values, secrets, outbound HTTP).
 */
export class Context {
  /** Emit an internal event, routed in the next superstep to the edges listening to it. */
  emit(eventType, data = null) {
    engine().emit(eventType, JSON.stringify(data), "internal");
  }

  /** Emit a public event: routed like `emit` and also published outside the process. */
  emitPublic(eventType, data = null) {
    engine().emit(eventType, JSON.stringify(data), "public");
  }

  /** Write a log line at `level` (trace, debug, info, warn, error). */
  log(message, level = "info") {
    engine().log(LEVELS.has(level) ? level : "info", String(message));
  }

  /**
   * This invocation's id, `<instance>:<step>:<n>`: the same when the superstep is re-run after a crash,
   * so pass it to an outside system as an idempotency key.
   */
  invocationId() {
    return engine().invocationId();
  }

  /** The configuration value `name` the definition gives this step (`capabilities.config`), or undefined. */
  config(name) {
    return engine().configGet(name) ?? undefined;
  }

  /**
   * The secret `name` granted to this step (`capabilities.secrets`); Weft redacts its value from the
   * step's output. Throws a `Failure` when the step was not granted it.
   */
  secret(name) {
    try {
      return engine().secretGet(name);
    } catch (e) {
      throw new Failure(String(e?.payload ?? e));
    }
  }

  /**
   * Send an HTTP request to an origin the definition allows (`capabilities.http`): `{ method, url,
   * headers, body, json }` (`headers` an object or `[name, value]` pairs; `body` text or bytes; `json`
   * any JSON value, which sets `content-type`). Returns a `Response`; throws a `Failure` when the origin
   * is not allowed, the request times out or fails, or the response is too large.
   */
  http({ method = "GET", url, headers = [], body, json }) {
    const pairs = Array.isArray(headers) ? [...headers] : Object.entries(headers);
    if (json !== undefined) {
      body = JSON.stringify(json);
      pairs.push(["content-type", "application/json"]);
    }
    const bytes = typeof body === "string" ? utf8Encode(body) : body;
    try {
      const r = engine().send({ method, url, headers: pairs, body: bytes ?? null });
      return new Response(r.status, r.headers, r.body);
    } catch (e) {
      const error = e?.payload ?? e;
      throw new Failure(`HTTP request ${HTTP_ERRORS[error?.tag] ?? "failed"}: ${error?.val ?? error}`);
    }
  }
}

// QuickJS has no TextEncoder: UTF-8 through the URI functions.
function utf8Encode(text) {
  const binary = unescape(encodeURIComponent(text));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function utf8Decode(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  try {
    return decodeURIComponent(escape(binary));
  } catch {
    return binary;
  }
}

const KINDS = new Set(["string", "integer", "number", "boolean", "array", "object", "any"]);
const LEVELS = new Set(["trace", "debug", "info", "warn", "error"]);

/** Declare a kernel function: `params` maps each parameter name to its type, `run(ctx, state, args)`. */
export function kernelFunction(params, run, description) {
  const parsed = Object.entries(params).map(([name, spec]) => {
    const required = !spec.endsWith("?");
    const kind = required ? spec : spec.slice(0, -1);
    if (!KINDS.has(kind)) throw new Error(`parameter ${name}: unknown type ${spec}`);
    return { name, required, kind };
  });
  return { params: parsed, run, description };
}

function fits(kind, value) {
  switch (kind) {
    case "any":
      return true;
    case "integer":
      return Number.isInteger(value);
    case "array":
      return Array.isArray(value);
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    default:
      return typeof value === kind;
  }
}

function fail(tag, val) {
  // A thrown value becomes the `err` of a `result` export.
  return { tag, val };
}

function encode(value, what) {
  try {
    return JSON.stringify(value);
  } catch (e) {
    throw fail("failed", `cannot serialise the ${what}: ${e.message}`);
  }
}

/**
 * The component's `kernel` export for a step: `{ describe, invoke }`. `events` (names, or an object of name to a
 * description) declares the events it emits. `migrate(fromVersion, old)`, if given, turns
 * a snapshot written under an older `stateVersion` into this version's layout; without it an older
 * snapshot is refused.
 */
export function defineStep({ stateVersion = 1, state, migrate, functions, events = [] }) {
  // The events the step declares it emits: names, or an object of name to a one-line description.
  const declared = Array.isArray(events)
    ? events.map((name) => ({ name }))
    : Object.entries(events).map(([name, description]) => ({ name, description }));
  const describe = () => ({
    functions: Object.entries(functions).map(([name, f]) => ({
      name,
      description: f.description,
      params: f.params.map((p) => ({
        name: p.name,
        required: p.required,
        schema: p.kind === "any" ? undefined : JSON.stringify({ type: p.kind }),
      })),
    })),
    events: declared,
    stateVersion,
  });

  const invoke = (call) => {
    const f = Object.hasOwn(functions, call.function) ? functions[call.function] : undefined;
    if (!f) throw fail("unknown-function", call.function);
    let current = null;
    if (state) {
      try {
        current = state();
        if (call.state !== undefined && call.state !== null) {
          const snapshot = migrated(JSON.parse(call.state), call.stateVersion);
          // Fields the snapshot lacks keep their initial values (as dataclass defaults do in Python).
          const plain = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
          current = plain(current) && plain(snapshot) ? { ...current, ...snapshot } : snapshot;
        }
      } catch (e) {
        throw fail("bad-state", `cannot read the state snapshot: ${e.message}`);
      }
    }
    function migrated(snapshot, version) {
      if (version === stateVersion) return snapshot;
      if (version > stateVersion) {
        throw new Error(`it is of state version ${version}, newer than the version ${stateVersion} this step reads`);
      }
      if (!migrate) {
        throw new Error(
          `it is of state version ${version} and this step reads version ${stateVersion} and has no migration; ` +
            "give defineStep a migrate function or the definition's stateVersion the right version",
        );
      }
      return migrate(version, snapshot);
    }
    const given = new Map(call.args);
    const args = {};
    for (const p of f.params) {
      if (!given.has(p.name)) {
        if (p.required) throw fail("bad-argument", { parameter: p.name, message: "missing required argument" });
        continue;
      }
      let value;
      try {
        value = JSON.parse(given.get(p.name));
      } catch (e) {
        throw fail("bad-argument", { parameter: p.name, message: e.message });
      }
      if (!(value === null && !p.required) && !fits(p.kind, value)) {
        const got = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
        throw fail("bad-argument", { parameter: p.name, message: `expected ${p.kind}, got ${got}` });
      }
      args[p.name] = value;
    }
    let result;
    try {
      result = f.run(new Context(), current, args);
    } catch (e) {
      throw fail("failed", e instanceof Failure ? e.message : `${e?.name ?? "Error"}: ${e?.message ?? e}`);
    }
    if (result instanceof Promise) throw fail("failed", "kernel functions must be synchronous");
    return {
      result: result === undefined || result === null ? undefined : encode(result, "result"),
      state: state ? encode(current, "state") : undefined,
    };
  };

  return { describe, invoke };
}
