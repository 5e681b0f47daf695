"""Echo (SK's EchoStep) in Python: returns its message unchanged. Stateless."""

from weft_step import Step, export, kernel_function


class Echo(Step):
    @kernel_function
    def echo(self, message: str) -> str:
        """Return `message` unchanged."""
        return message


Kernel = export(Echo)
