"""Shared helpers for module-level `transitions` machines that move SQLAlchemy models.

One machine per model class, built with ``model=None``: events are fired with
``MACHINE.events[name].trigger(obj, ...)``, which costs microseconds and nothing at load
time. Callbacks receive the session and the actor in the event's kwargs; they add rows to
the caller's transaction and never commit.
"""

from transitions import Machine, MachineError


class TransitionNotAllowed(Exception):
    """The trigger is not allowed from the record's current state."""

    def __init__(self, trigger: str, state: object):
        super().__init__(f"{trigger} is not allowed from {state}")
        self.trigger = trigger
        self.state = state


def fire(machine: Machine, obj: object, trigger: str, **kwargs) -> None:
    """Fire `trigger` on `obj`; raise TransitionNotAllowed and leave `obj` unchanged if refused."""
    event = machine.events.get(trigger)
    if event is None:
        raise TransitionNotAllowed(trigger, getattr(obj, "state", None))
    try:
        event.trigger(obj, **kwargs)
    except MachineError as error:
        raise TransitionNotAllowed(trigger, getattr(obj, "state", None)) from error


def allowed_triggers(machine: Machine, obj: object) -> list[str]:
    """Return the triggers that may fire from the record's current state."""
    state = obj.state
    name = state.name if hasattr(state, "name") else str(state)
    return [trigger for trigger, event in machine.events.items() if name in event.transitions]
