"""Kitchen (Python): prepare one order line at its station.

Each station works through its queue in order: a line is ready when the station's earlier work is done
plus its own time (a first unit's base time, then 2 minutes per extra unit cooked in the same batch).
Hot food leaves at the station's core temperature; cold food warms a little while a large batch is
plated (0.5 degrees C per unit above 3 degrees C).
"""

from dataclasses import dataclass, field

from weft_step import Context, Failure, Step, export, kernel_function

BASE_MINUTES = {"grill": 8, "fryer": 5, "oven": 12, "cold": 3}
CORE_TEMP_C = {"grill": 71.0, "fryer": 74.0, "oven": 74.0}


@dataclass
class KitchenState:
    # Minutes of work queued at each station.
    backlog: dict = field(default_factory=lambda: {s: 0 for s in BASE_MINUTES})
    prepared: int = 0


class Kitchen(Step):
    State = KitchenState
    events = ("ItemPrepared",)

    @kernel_function
    def prepare(self, ctx: Context, item: dict) -> dict:
        """Queue the line at its station and emit `ItemPrepared` with when it is ready and its temperature."""
        station = item.get("station")
        if station not in BASE_MINUTES:
            raise Failure(f"no {station} station")
        quantity = int(item.get("quantity", 1))
        minutes = BASE_MINUTES[station] + 2 * (quantity - 1)
        self.state.backlog[station] = self.state.backlog.get(station, 0) + minutes
        temp = CORE_TEMP_C.get(station, 3.0 + 0.5 * quantity)
        prepared = dict(item, readyInMinutes=self.state.backlog[station], coreTempC=temp)
        self.state.prepared += 1
        ctx.log(f"{item.get('name')} ready in {prepared['readyInMinutes']} min at {station}")
        ctx.emit("ItemPrepared", prepared)
        return prepared


Kernel = export(Kitchen)
