// Echo (SK's EchoStep) in JavaScript: returns its message unchanged. Stateless.
import { defineStep, kernelFunction } from "weft-step";

export const kernel = defineStep({
  functions: {
    echo: kernelFunction({ message: "string" }, (ctx, state, { message }) => message, "Return `message` unchanged."),
  },
});
