"""R-ACC-1 field rules (validation and case) and R-ACC-2 login generation for partner accounts."""

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from ..extensions import db
from ..models import CIVILITIES, PartnerAccount
from .errors import ValidationFailed

# Letters (accented ones included), apostrophe, hyphen, space.
NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '’\-][^\W\d_]+)*$")
PHONE_RE = re.compile(r"^\d{2}(\.\d{2}){4}$")

NAME_MESSAGE = "Seuls les lettres, l'apostrophe, le tiret et l'espace sont autorisés."
PHONE_MESSAGE = "Le numéro de téléphone doit respecter le format XX.XX.XX.XX.XX."


def normalized_email(email: str, errors: dict, field: str = "email") -> str:
    """The address as email-validator normalises it; a French message under `field` if invalid."""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        errors[field] = "L'adresse e-mail n'est pas valide."
        return email


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def upper_name(value: str) -> str:
    return value.upper()


def capitalize_first_name(value: str) -> str:
    """'jean-pierre' → 'Jean-Pierre', 'MARIE CLAIRE' → 'Marie Claire' (R-ACC-1)."""
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), value.lower())


def normalize_phone(value: str) -> str:
    """Accept '0556123456', '05 56 12 34 56' or '05.56.12.34.56'; return the dotted form if 10 digits."""
    digits = re.sub(r"[\s.\-]", "", value or "")
    if re.fullmatch(r"\d{10}", digits):
        return ".".join(digits[i : i + 2] for i in range(0, 10, 2))
    return (value or "").strip()


def _check_name(errors: dict, field: str, value: str, max_len: int, label: str) -> None:
    if len(value) > max_len:
        errors[field] = f"Le champ « {label} » ne doit pas dépasser {max_len} caractères."
    elif not NAME_RE.match(value):
        errors[field] = f"{label} : {NAME_MESSAGE}"


def clean_identity(data: dict) -> dict:
    """Validate and normalise the R-ACC-1 fields; raise ValidationFailed with French messages."""
    errors: dict[str, str] = {}
    civility = _clean(data.get("civility"))
    birth_name = _clean(data.get("birth_name"))
    usage_name = _clean(data.get("usage_name"))
    first_name = _clean(data.get("first_name"))
    function = _clean(data.get("function"))
    phone = normalize_phone(data.get("phone") or "")
    email = (data.get("email") or "").strip()

    if civility not in CIVILITIES:
        errors["civility"] = "Veuillez choisir la civilité (Madame ou Monsieur)."
    if not birth_name and not usage_name:
        errors["usage_name"] = "Veuillez renseigner le nom patronymique ou le nom usuel."
    if birth_name:
        _check_name(errors, "birth_name", birth_name, 30, "Nom patronymique")
    if usage_name:
        _check_name(errors, "usage_name", usage_name, 30, "Nom usuel")
    if not first_name:
        errors["first_name"] = "Veuillez renseigner le prénom."
    else:
        _check_name(errors, "first_name", first_name, 20, "Prénom")
    if not function:
        errors["function"] = "Veuillez renseigner la fonction."
    elif len(function) > 20:
        errors["function"] = "Le champ « Fonction » ne doit pas dépasser 20 caractères."
    if not phone:
        errors["phone"] = "Veuillez renseigner le téléphone."
    elif not PHONE_RE.match(phone):
        errors["phone"] = PHONE_MESSAGE
    if not email:
        errors["email"] = "Veuillez renseigner l'adresse e-mail."
    else:
        email = normalized_email(email, errors)
    if errors:
        raise ValidationFailed(errors)
    return {
        "civility": civility,
        "birth_name": upper_name(birth_name) or None,
        "usage_name": upper_name(usage_name) or None,
        "first_name": capitalize_first_name(first_name),
        "function": function,
        "phone": phone,
        "email": email,
    }


def strip_accents(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def base_login(first_name: str, birth_name: str | None, usage_name: str | None) -> str:
    """R-ACC-2: first letter of the first name, a dot, the usage (else birth) name, plain lower-case."""
    name = usage_name or birth_name or ""
    first = strip_accents(first_name).lower()[:1]
    last = re.sub(r"[^a-z\-]", "", strip_accents(name).lower())
    return f"{first}.{last}"


def generate_login(first_name: str, birth_name: str | None, usage_name: str | None) -> str:
    """The base login, or with 2, 3, … appended when taken (logins are unique and never reused)."""
    base = base_login(first_name, birth_name, usage_name)
    taken = set(
        db.session.scalars(
            select(PartnerAccount.login).where((PartnerAccount.login == base) | PartnerAccount.login.like(f"{base}%"))
        )
    )
    if base not in taken:
        return base
    suffix = 2
    while f"{base}{suffix}" in taken:
        suffix += 1
    return f"{base}{suffix}"
