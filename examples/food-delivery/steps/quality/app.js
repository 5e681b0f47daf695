// Quality control (JavaScript): gather an order's prepared items (a fan-in of many `ItemPrepared` events)
// and pass the order once every item is at a safe temperature: hot food at or above 57 degrees C (135 F)
// and cold food at or below 5 degrees C (41 F), the hot- and cold-holding limits of the FDA Food Code
// (section 3-501.16).
import { defineStep, kernelFunction, Failure } from "weft-step";

const HOT_MIN_C = 57;
const COLD_MAX_C = 5;

export const kernel = defineStep({
  events: ["OrderReady", "QualityFailed"],
  state: () => ({ open: {}, passed: 0, failed: 0 }),
  functions: {
    expect: kernelFunction(
      { order: "object" },
      (ctx, state, { order }) => {
        state.open[order.orderId] = { order, items: [] };
      },
      "Remember an accepted order and how many items to wait for.",
    ),
    check: kernelFunction(
      { item: "object" },
      (ctx, state, { item }) => {
        const entry = state.open[item.orderId];
        if (!entry) throw new Failure(`item for unknown order ${item.orderId}`);
        entry.items.push(item);
        if (entry.items.length < entry.order.itemCount) return null;
        delete state.open[item.orderId];
        const problems = entry.items
          .filter((i) => (i.station === "cold" ? i.coreTempC > COLD_MAX_C : i.coreTempC < HOT_MIN_C))
          .map((i) => `${i.name} was at ${i.coreTempC} degrees C`);
        const { order } = entry;
        if (problems.length > 0) {
          state.failed += 1;
          ctx.emitPublic("QualityFailed", {
            orderId: order.orderId,
            name: order.customer.name,
            email: order.customer.email,
            subject: `Your order ${order.orderId}`,
            summary: "we could not prepare your order safely, and you will not be charged",
            reasons: problems,
          });
          return null;
        }
        state.passed += 1;
        const readyInMinutes = Math.max(...entry.items.map((i) => i.readyInMinutes));
        ctx.emit("OrderReady", {
          orderId: order.orderId,
          customer: order.customer,
          restaurant: order.restaurant,
          readyInMinutes,
          items: entry.items.sort((a, b) => a.index - b.index).map((i) => `${i.quantity} x ${i.name}`),
        });
        return readyInMinutes;
      },
      "Check one prepared item; when the order is complete, emit OrderReady or QualityFailed.",
    ),
  },
});
