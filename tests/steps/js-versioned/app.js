// Versioned in JavaScript: a step at state version 2 (`{total, visits}`) that migrates version 1 (`{count}`).
import { defineStep, kernelFunction } from "weft-step";

export const kernel = defineStep({
  stateVersion: 2,
  state: () => ({ total: 0, visits: 0 }),
  migrate: (fromVersion, old) => {
    if (fromVersion !== 1) throw new Error(`no migration from state version ${fromVersion}`);
    return { total: old.count ?? 0, visits: 0 };
  },
  functions: {
    add: kernelFunction(
      { amount: "integer" },
      (ctx, state, { amount }) => {
        state.total += amount;
        state.visits += 1;
        return state.total;
      },
      "Add `amount` to the total and return it.",
    ),
  },
});
