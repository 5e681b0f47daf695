// Repeat (SK's RepeatStep) in JavaScript: joins `count` copies of the message and emits them publicly.
import { defineStep, kernelFunction, Failure } from "weft-step";

export const kernel = defineStep({
  state: () => ({ times: 0, calls: 0 }),
  functions: {
    repeat: kernelFunction(
      { message: "string", count: "integer?" },
      (ctx, state, { message, count }) => {
        const n = count ?? state.times;
        if (n > 1000) throw new Failure(`count ${n} is above 1000`);
        state.calls += 1;
        const text = Array(n).fill(message).join(" ");
        ctx.emitPublic("Repeated", text);
        return text;
      },
      "Repeat `message` `count` times (default: the state's `times`), emit `Repeated`, return the text.",
    ),
  },
});
