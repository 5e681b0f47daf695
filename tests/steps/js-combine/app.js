// Combine in JavaScript: a fan-in of two required parameters, `left` and `right`.
import { defineStep, kernelFunction } from "weft-step";

export const kernel = defineStep({
  functions: {
    combine: kernelFunction(
      { left: "string", right: "string" },
      (ctx, state, { left, right }) => {
        const text = `${left}+${right}`;
        ctx.emitPublic("Combined", text);
        return text;
      },
      "Emit `Combined` with `left+right` and return it.",
    ),
  },
});
