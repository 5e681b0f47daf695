"""Delivery (Python): hand the order to its driver and tell the customer when it will arrive."""

from dataclasses import dataclass

from weft_step import Context, Step, export, kernel_function


@dataclass
class DeliveryState:
    deliveries: int = 0
    kilometres: float = 0.0


class Delivery(Step):
    State = DeliveryState
    events = ("OrderOnItsWay",)

    @kernel_function
    def deliver(self, ctx: Context, assignment: dict) -> None:
        """Emit a public `OrderOnItsWay` with the driver and the arrival time."""
        driver = assignment["driver"]["name"]
        eta = int(assignment["etaMinutes"])
        first_name = assignment["customer"]["name"].split()[0]
        self.state.deliveries += 1
        self.state.kilometres = round(self.state.kilometres + assignment["deliveryKm"], 1)
        ctx.emit_public(
            "OrderOnItsWay",
            {
                "orderId": assignment["orderId"],
                "to": assignment["customer"]["email"],
                "driver": driver,
                "etaMinutes": eta,
                "message": f"Hi {first_name}, {driver} is bringing your order; it arrives in about {eta} minutes.",
            },
        )


Kernel = export(Delivery)
