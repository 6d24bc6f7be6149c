"""Read the forms of a page as a browser would submit them (for the walks of the redirect and the
hostile-input tests): each form's method, action and the fields it declares with their values."""

import html as html_lib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from werkzeug.datastructures import MultiDict


@dataclass
class Form:
    method: str
    action: str
    fields: list = field(default_factory=list)  # [(name, value, kind)] in page order
    # the value each field would submit: kind is the input type, "select" or "textarea"

    def names(self) -> list[str]:
        seen = []
        for name, _, _ in self.fields:
            if name not in seen:
                seen.append(name)
        return seen

    def data(self) -> MultiDict:
        """What submitting the form unchanged sends (checked boxes, selected options, values)."""
        return MultiDict([(name, value) for name, value, kind in self.fields if value is not None])


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, list, list, bool] | None = None  # name, options, selected, multiple
        self._option_value: str | None = None
        self._textarea: tuple[str, list] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(method=a.get("method", "get").upper(), action=a.get("action", ""))
            self.forms.append(self._form)
            return
        form = self._form
        name = a.get("name")
        if tag == "input" and form is not None and name:
            kind = a.get("type", "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                form.fields.append((name, None, kind))
            elif kind in {"checkbox", "radio"}:
                form.fields.append((name, a.get("value", "on") if "checked" in a else None, kind))
            else:
                form.fields.append((name, a.get("value", ""), kind))
        elif tag == "select" and form is not None and name:
            self._select = (name, [], [], "multiple" in a)
        elif tag == "option" and self._select is not None:
            value = a.get("value")
            self._option_value = value
            if value is not None:
                self._select[1].append(value)
                if "selected" in a:
                    self._select[2].append(value)
        elif tag == "textarea" and form is not None and name:
            self._textarea = (name, [])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options, selected, multiple = self._select
            if multiple:
                self._form.fields.extend((name, value, "select") for value in selected)
                if not selected:
                    self._form.fields.append((name, None, "select"))
            else:
                chosen = selected or options[:1]
                self._form.fields.append((name, chosen[0] if chosen else "", "select"))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, parts = self._textarea
            self._form.fields.append((name, "".join(parts).removeprefix("\n"), "textarea"))
            self._textarea = None


def forms_of(body: str) -> list[Form]:
    parser = _Parser()
    parser.feed(body)
    return parser.forms


def post_forms(body: str) -> list[Form]:
    return [f for f in forms_of(body) if f.method == "POST"]


def action_path(form: Form, page_url: str) -> str:
    """The form's target as a path with its query string (the page itself when action is empty)."""
    target = urljoin("http://localhost" + page_url, html_lib.unescape(form.action or page_url))
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")
