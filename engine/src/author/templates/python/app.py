"""{{name}}: a Weft step. `weft build` makes it a component ({{name}}.wasm beside this folder)."""

from dataclasses import dataclass

from weft_step import Context, Step, export, kernel_function


@dataclass
class {{Name}}State:
    """The step's state: the engine keeps it between invocations and checkpoints it."""

    greeted: int = 0


class {{Name}}(Step):
    State = {{Name}}State
    events = {"Greeted": "a notice for the customer greeted"}

    @kernel_function
    def greet(self, ctx: Context, customer: dict) -> str:
        """Greet `customer` ({"name", "email"}), count the greetings, and emit a public `Greeted` event."""
        self.state.greeted += 1
        summary = f"welcome, you are greeting number {self.state.greeted}"
        notice = {"name": customer["name"], "email": customer["email"], "subject": "Welcome", "summary": summary}
        ctx.emit_public("Greeted", notice)
        return f"Hello, {customer['name']}!"


Kernel = export({{Name}})
