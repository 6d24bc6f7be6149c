"""Domain errors: a refused business rule carries the French message the user reads."""


class DomainError(Exception):
    """A rule refused the operation. `field` names the form field to show it on, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Several field errors at once: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors
