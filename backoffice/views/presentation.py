"""How the back office's pages show things, in French and to assistive technologies: the value
formatters of every list and details page, the flashed messages (one per save), the row actions'
accessible names. Used by views/base.SecureModelView and admin/ep_base.html."""

from datetime import date, datetime
from enum import Enum

from flask import get_flashed_messages
from flask_admin.model.template import EndpointLinkRowAction

from ..clock import format_date, format_datetime

GENERIC_SAVED = ("Record was successfully created.", "Record was successfully saved.")


def shown_flashes() -> list[tuple[str, str]]:
    """The page's flashed messages (category, text), each once: Flask-Admin's generic « L'élément est
    créé. » / « Les modifications sont enregistrées. » is left out when the view said more in its own
    success message (« Le compte … est créé : un lien … lui a été envoyé. »): one message per save.
    admin/ep_base.html shows them."""
    from flask_admin.babel import gettext as admin_gettext

    messages = get_flashed_messages(with_categories=True)
    generic = {admin_gettext(text) for text in GENERIC_SAVED}
    specific = any(category == "success" and message not in generic for category, message in messages)
    shown: list[tuple[str, str]] = []
    for category, message in messages:
        if (specific and category == "success" and message in generic) or (category, message) in shown:
            continue
        shown.append((category, message))
    return shown


class NamedLinkRowAction(EndpointLinkRowAction):
    """An EndpointLinkRowAction (column_extra_row_actions) whose link names its row, like the
    view and edit icons (admin/model/row_actions.html `link`)."""

    def render(self, context, row_id, row):
        kwargs = dict(self.url_args or {}, **{self.id_arg: row_id})
        url = context.resolve("get_url")(self.endpoint, **kwargs)
        return context.resolve("row_actions").link(self, url, None, row)


def _date_formatter(view, value, name=None):
    return format_date(value)


def _datetime_formatter(view, value, name=None):
    return format_datetime(value)


def _bool_formatter(view, value, name=None):
    return "Oui" if value else "Non"


def _enum_formatter(view, value, name=None):
    return getattr(value, "label", None) or str(value.value)


def _list_formatter(view, values, name=None):
    return ", ".join(str(v) for v in values)


# datetime before date: a datetime is also a date, and Flask-Admin takes the first isinstance match.
TYPE_FORMATTERS = {
    datetime: _datetime_formatter,
    date: _date_formatter,
    bool: _bool_formatter,
    Enum: _enum_formatter,
    list: _list_formatter,
    type(None): lambda view, value, name=None: "",
}
