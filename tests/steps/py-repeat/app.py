"""Repeat (SK's RepeatStep) in Python: joins `count` copies of the message and emits them publicly."""

from dataclasses import dataclass

from weft_step import Context, Failure, Step, export, kernel_function


@dataclass
class RepeatState:
    times: int = 0
    calls: int = 0


class Repeat(Step):
    State = RepeatState

    @kernel_function
    def repeat(self, ctx: Context, message: str, count: int | None = None) -> str:
        """Repeat `message` `count` times (default: the state's `times`), emit `Repeated`, return the text."""
        count = self.state.times if count is None else count
        if count > 1000:
            raise Failure(f"count {count} is above 1000")
        self.state.calls += 1
        text = " ".join([message] * count)
        ctx.emit_public("Repeated", text)
        return text


Kernel = export(Repeat)
