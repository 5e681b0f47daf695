import { test } from "node:test";
import assert from "node:assert/strict";
import { invoke } from "weft-step/testing";
import { kernel } from "./app.js";

test("greets and counts", () => {
  const ada = { name: "Ada", email: "ada@example.com" };
  const out = invoke(kernel, "greet", { customer: ada }, { state: { greeted: 1 } });
  assert.equal(out.result, "Hello, Ada!");
  assert.deepEqual(out.state, { greeted: 2 });
  assert.equal(out.events[0].type, "Greeted");
  assert.equal(out.events[0].data.summary, "welcome, you are greeting number 2");
});
