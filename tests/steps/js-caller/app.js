// Calls an outside service with a granted secret (the SDK's config, secrets and HTTP in JavaScript).
//
// `call({ url, person })` POSTs `person` to `url` with the secret `apiKey` as a bearer token, prints a line
// naming the key, emits `Called` carrying the key, and returns the status, the response's JSON, the config
// value `region` and the key: Weft must redact the key everywhere it would appear.
import { defineStep, kernelFunction } from "weft-step";

export const kernel = defineStep({
  functions: {
    call: kernelFunction(
      { request: "object" },
      (ctx, state, { request: { url, person } }) => {
        const key = ctx.secret("apiKey");
        console.log(`calling ${url} with key ${key}`);
        const response = ctx.http({ method: "POST", url, headers: { authorization: `Bearer ${key}` }, json: person });
        ctx.emit("Called", { status: response.status, key });
        return { status: response.status, body: response.json(), region: ctx.config("region"), key };
      },
      "POST `person` to `url` with the `apiKey` secret.",
    ),
  },
});
