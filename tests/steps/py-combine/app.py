"""Combine in Python: a fan-in of two required parameters, `left` and `right`."""

from weft_step import Context, Step, export, kernel_function


class Combine(Step):
    @kernel_function
    def combine(self, ctx: Context, left: str, right: str) -> str:
        """Emit `Combined` with `left+right` and return it."""
        text = f"{left}+{right}"
        ctx.emit_public("Combined", text)
        return text


Kernel = export(Combine)
