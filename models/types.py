"""Column helpers shared by the domain modules."""

import enum

from sqlalchemy import Enum


def enum_type(enum_class: type[enum.Enum], name: str, length: int = 32) -> Enum:
    """Store an enum by its value as a short string, checked by a named CHECK constraint."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
