"""Enumerations whose members carry the French label users read."""

import enum


class LabelledEnum(str, enum.Enum):
    """A string enumeration declared as `MEMBER = "stored value", "Libellé"`: the member equals
    its stored value, and `.label` is what pages, exports and e-mails show. `Kind("value")` looks a
    member up by its stored value, as for any Enum (the label is then not needed)."""

    _value_: str  # the stored value, not the declared pair
    label: str

    def __new__(cls, value: str, label: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs in declaration order, for selects and filters."""
        return [(member.value, member.label) for member in cls]
