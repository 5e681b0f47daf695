// {{name}}: a Weft step. `weft build` makes it a component ({{name}}.wasm beside this folder).
import { defineStep, kernelFunction, Failure } from "weft-step";

export const kernel = defineStep({
  // The step's state: the engine keeps it between invocations and checkpoints it.
  state: () => ({ greeted: 0 }),
  events: { Greeted: "a notice for the customer greeted" },
  functions: {
    greet: kernelFunction(
      { customer: "object" },
      (ctx, state, { customer }) => {
        if (typeof customer.name !== "string") throw new Failure("a customer needs a name");
        state.greeted += 1;
        const summary = `welcome, you are greeting number ${state.greeted}`;
        ctx.emitPublic("Greeted", { name: customer.name, email: customer.email, subject: "Welcome", summary });
        return `Hello, ${customer.name}!`;
      },
      'Greet `customer` ({"name", "email"}), count the greetings, and emit a public `Greeted` event.',
    ),
  },
});
