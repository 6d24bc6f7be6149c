"""Parsing of untrusted request values: same-site return paths, bounded integers, bounded dates,
text without control characters. One definition each, used by the back-office and the portal."""

import unicodedata
from datetime import date
from urllib.parse import unquote, urlsplit

from flask_wtf import FlaskForm
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

# The database's integer columns are 32-bit on PostgreSQL (int4); SQLite takes 64 bits. Ids, page
# numbers and counters above int4 exist nowhere, so they are refused the same way on both legs.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
# Dates the forms and filters accept: wide enough for any real date of the service, narrow enough
# for every timezone conversion and date arithmetic (± a few days) to stay within datetime's range.
YEAR_MIN = 1900
YEAR_MAX = 2999
DATE_RANGE_MESSAGE = f"Saisissez une date entre {YEAR_MIN} et {YEAR_MAX}."
FORBIDDEN_CHARACTER_MESSAGE = "Ce champ contient un caractère non autorisé."
MAX_RETURN_PATH = 2048


# --- return URLs ---------------------------------------------------------------------------------
def _unsafe_character(char: str) -> bool:
    """Backslashes, whitespace, C0/C1 controls, DEL and invisible format characters (RTL overrides,
    zero-width…): none belongs in a return path, and browsers drop or reinterpret several of them."""
    return char == "\\" or char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _plain_path(value: str, decoded: bool) -> bool:
    folded = unicodedata.normalize("NFKC", value)  # '／' and '＼' (fullwidth) fold to '/' and '\\'
    if not value.startswith("/") or value[1:2] in {"/", "\\"} or folded[1:2] in {"/", "\\"} or "\\" in folded:
        return False  # exactly one leading slash: '//host' and '/\host' open another site
    # A decoded space ('search=a%20b') is plain text; a raw one has no place in a URL.
    if any(_unsafe_character(c) for c in value if not (decoded and c == " ")):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def same_site_path(target) -> str | None:
    """target if it is a path on this site ('/admin/requests/?page=2'), else None.

    Exactly one leading '/', no scheme, no host, no backslash, no whitespace or control character,
    and the same once percent-decoded (up to three times: '/%2F%2Fevil', '/%255Cevil'), so that no
    later decoding (a proxy, a framework, a browser) turns it into another site or a header break.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_RETURN_PATH:
        return None
    value = target
    for round_ in range(4):
        if not _plain_path(value, decoded=round_ > 0):
            return None
        decoded = unquote(value)
        if decoded == value:
            return target
        value = decoded
    return None  # still encoded after three rounds: nothing legitimate looks like that


def safe_next(target, default: str) -> str:
    """The return path to follow: target when same_site_path accepts it, else default."""
    return same_site_path(target) or default


# --- integers ------------------------------------------------------------------------------------
def bounded_int(value, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int | None:
    """An integer typed in a URL or a form ('12', ' 12 '), or None when it is not one or lies outside
    [minimum, maximum] (by default the database's integer range)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not text or len(text) > 12 or not text.lstrip("+-").isdecimal() or not text.isascii():
            return None
        number = int(text)
    return number if minimum <= number <= maximum else None


# --- dates ---------------------------------------------------------------------------------------
def date_in_range(value: date | None) -> bool:
    return value is None or YEAR_MIN <= value.year <= YEAR_MAX


# --- text ----------------------------------------------------------------------------------------
def forbidden_character(text) -> bool:
    """True when text holds a character no form field accepts: NUL and the other C0 controls but
    tab, line feed and carriage return (multi-line fields), DEL, the C1 controls, and lone
    surrogates (invalid UTF-8 decoded with surrogateescape). PostgreSQL refuses NUL in text."""
    if not isinstance(text, str):
        return False
    for char in text:
        code = ord(char)
        if code < 0x20 and char not in "\t\n\r":
            return True
        if 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
            return True
    return False


# --- URL converters ------------------------------------------------------------------------------
class BoundedIntConverter(IntegerConverter):
    """`<int:…>` within the database's integer range: a larger id matches no route (404) instead of
    overflowing the driver (SQLite above 2^63, PostgreSQL's int4 above 2^31 - 1)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 (Werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=INT_MAX if max is None else max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > 12:  # werkzeug would parse 100 000 digits before comparing with max
            raise ValidationError()
        return super().to_python(value)


class PrintableStringConverter(UnicodeConverter):
    """The default `<name>` segment, without C0 controls or DEL: a NUL (which PostgreSQL refuses in
    text) or a CR/LF in a path segment matches no route (404)."""

    def __init__(self, map, minlength=1, maxlength=None, length=None):  # noqa: A002 (Werkzeug's names)
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\x00-\x1f\x7f]", 1)  # Werkzeug sets it per instance


def register_converters(app) -> None:
    """Before any route is added: rules bind their converters when they are registered."""
    app.url_map.converters.update(
        int=BoundedIntConverter, default=PrintableStringConverter, string=PrintableStringConverter
    )


# --- forms ---------------------------------------------------------------------------------------
NUMBER_RANGE_MESSAGE = "Ce nombre est hors des limites autorisées."


def field_problem(field) -> str | None:
    """The French message for a value no field of ours accepts, or None: a forbidden character in
    what was typed, an integer outside the database's range, a date outside YEAR_MIN..YEAR_MAX."""
    if any(forbidden_character(raw) for raw in (field.raw_data or ())):
        return FORBIDDEN_CHARACTER_MESSAGE
    data = field.data
    for value in data if isinstance(data, (list, tuple, set)) else (data,):
        if isinstance(value, int) and not isinstance(value, bool) and not INT_MIN <= value <= INT_MAX:
            return NUMBER_RANGE_MESSAGE
        if isinstance(value, date) and not date_in_range(value):
            return DATE_RANGE_MESSAGE
    return None


class SafeFieldsMixin:
    """For every WTForms form of the application (Flask-Admin's base form, the portal's forms):
    before any validator runs, each field is checked with field_problem. A field refused that way
    shows its message and the form is not validated further: a validator (Flask-Admin's Unique,
    a service's look-up) would otherwise send a NUL or an overflowing integer to the database."""

    def validate(self, extra_validators=None):
        problems = {name: message for name, field in self._fields.items() if (message := field_problem(field))}
        if not problems:
            return super().validate(extra_validators=extra_validators)
        for name, field in self._fields.items():
            field.errors = list(field.process_errors) + ([problems[name]] if name in problems else [])
        return False


class SafeFlaskForm(SafeFieldsMixin, FlaskForm):
    """FlaskForm (CSRF) with SafeFieldsMixin's checks."""
