"""Errors that services raise; the web app turns each into a page, a form error or a status."""

from collections.abc import Mapping

from spets.i18n import TranslationString


class ServiceError(Exception):
    """Base class: `message` is a translation string for the user."""

    def __init__(self, message: TranslationString | str):
        # The English text, for logs and tracebacks; pages translate `message` themselves.
        super().__init__(
            message.interpolate() if isinstance(message, TranslationString) else str(message)
        )
        self.message = message


class NotFound(ServiceError):
    """The record does not exist, or lies outside the caller's scope."""


class PermissionDenied(ServiceError):
    """The caller may see the record but not do this to it."""


class InvalidInput(ServiceError):
    """Input that passed the form schema but breaks a rule that needs the database.

    `field_errors` maps a form field name to its message, so the form can show each
    message beside its field.
    """

    def __init__(
        self,
        message: TranslationString | str,
        field_errors: Mapping[str, TranslationString | str] | None = None,
    ):
        super().__init__(message)
        self.field_errors = dict(field_errors or {})


class StaleEdit(ServiceError):
    """The record changed since the user loaded the form, so the save was refused.

    `current` holds the stored values of the fields that differ from what the user
    submitted, so the page can show both versions.
    """

    def __init__(
        self,
        message: TranslationString | str,
        current_version: int,
        differences: Mapping[str, tuple[object, object]] | None = None,
    ):
        super().__init__(message)
        self.current_version = current_version
        self.differences = dict(differences or {})


class Locked(ServiceError):
    """The record is locked (signed off or published) and cannot change this way."""
