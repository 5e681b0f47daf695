"""Versioned in Python: a step at state version 2 (`{total, visits}`) that migrates version 1 (`{count}`)."""

from dataclasses import dataclass

from weft_step import Step, export, kernel_function


@dataclass
class VersionedState:
    total: int = 0
    visits: int = 0


class Versioned(Step):
    State = VersionedState
    state_version = 2

    @classmethod
    def migrate(cls, from_version, state):
        if from_version != 1:
            raise ValueError(f"no migration from state version {from_version}")
        return {"total": state.get("count", 0), "visits": 0}

    @kernel_function
    def add(self, amount: int) -> int:
        """Add `amount` to the total and return it."""
        self.state.total += amount
        self.state.visits += 1
        return self.state.total


Kernel = export(Versioned)
