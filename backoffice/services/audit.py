"""Writes the audit log (R-RGPD-4) inside the caller's transaction, and reads it as French
(describe, detail_lines, target_type_label: the sentences are in services/audit_texts.py)."""

import string
from datetime import date, datetime
from typing import Any

from flask import has_request_context, request

from ..clock import format_date, format_datetime
from ..extensions import db
from ..models import AuditEntry
from ..models.audit import TARGET_RELATIONSHIPS


def actor_fields(actor) -> dict:
    if actor is None:
        return {"actor_type": "system", "actor_id": None, "actor_label": "Système"}
    kind = getattr(actor, "kind", None)
    if kind == "agent":
        return {"actor_type": "agent", "actor_id": actor.id, "actor_label": actor.username}
    if kind == "partner":
        return {"actor_type": "partner", "actor_id": actor.id, "actor_label": actor.login}
    return {"actor_type": "anonymous", "actor_id": None, "actor_label": str(actor)[:120]}


def record(action: str, actor=None, target=None, caisse_id: int | None = None, **details) -> AuditEntry:
    """Add an audit row to the session; it commits (or rolls back) with the business change."""
    ip = request.remote_addr if has_request_context() else None
    entry = AuditEntry(
        action=action,
        caisse_id=caisse_id,
        target_type=type(target).__name__ if target is not None else None,
        target_id=getattr(target, "id", None),
        details=details,
        ip=ip,
        **actor_fields(actor),
    )
    db.session.add(entry)
    return entry


def record_new(action: str, actor, target, caisse_id: int | None, **details) -> AuditEntry:
    """record() for a row the change creates: it is added to the session and flushed first, so that
    the entry names it by its id."""
    db.session.add(target)
    db.session.flush()
    return record(action, actor=actor, target=target, caisse_id=caisse_id, **details)


def changes(obj, new_values: dict) -> dict[str, list]:
    """{field: [old, new]} for the fields whose new value differs: an update's `changed=` detail,
    shown as « Nom : « A » → « B » » (dates and numbers as text)."""
    return {
        key: [_plain(getattr(obj, key)), _plain(value)]
        for key, value in sorted(new_values.items())
        if getattr(obj, key) != value
    }


# --- reading: the sentence, the details, the object's type ------------------------------------------


def _placeholders(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


def _sentence(entry: AuditEntry) -> tuple[str, set[str]]:
    """The template of the entry's sentence, and the details it reads (not listed again)."""
    from .audit_texts import GENERIC, GENERIC_NO_TARGET, SENTENCES

    details = entry.details or {}
    sentence = SENTENCES.get(entry.action)
    if sentence is None:
        template = GENERIC if entry.target_type else GENERIC_NO_TARGET
        return template, _placeholders(template)
    if isinstance(sentence, str):
        return sentence, _placeholders(sentence)
    key, cases = sentence
    template = cases.get(str(details.get(key)), cases["*"])
    return template, _placeholders(template) | {key}


class _Values(dict):
    """The template's values; a detail that the entry lacks reads « — » rather than failing."""

    def __missing__(self, key: str) -> str:
        return "—"


def describe(entry: AuditEntry) -> str:
    """The entry as a French sentence: « Paul BERNARD a pris en charge la demande N° 2633100027 »."""
    details = entry.details or {}
    template, _used = _sentence(entry)
    values = _Values({key: _shown(key, value) for key, value in details.items()})
    values["actor"] = actor_name(entry)
    values["target"] = _target_text(entry)
    values["target_type"] = target_type_label(entry.target_type).lower() if entry.target_type else ""
    values["role"] = _role_text(entry.action.split(".", 1)[0], details.get("role"))
    text = template.format_map(values)
    if template.startswith("{actor}") and entry.actor_type in ("agent", "partner"):
        return text  # a name or a login, as it is written
    return text[0].upper() + text[1:] if text else text


def actor_name(entry: AuditEntry) -> str:
    """Who did it: the agent's or the partner's name (« Paul BERNARD »), else the login kept."""
    if entry.actor_type == "system":
        return "le système"
    if entry.actor_type == "anonymous":
        return "un visiteur"
    person = entry.actor_agent if entry.actor_type == "agent" else entry.actor_partner
    return person.full_name if person is not None else entry.actor_label


def target_label(entry: AuditEntry) -> str | None:
    """How the sentence names the object, as it is now: « N° 2633100027 », « Marie DUPONT », a
    structure's name…; None when it is gone."""
    name = TARGET_RELATIONSHIPS.get(entry.target_type or "")
    target = getattr(entry, name) if name else None
    if target is None:
        return None
    if entry.target_type == "Request":
        return f"N° {target.number}"
    if entry.target_type in ("Agent", "PartnerAccount"):
        return target.full_name
    if entry.target_type == "Convention":
        return target.structure.name
    return str(getattr(target, "name", None) or getattr(target, "title", None) or getattr(target, "subject", ""))


def _target_text(entry: AuditEntry) -> str:
    label = target_label(entry)
    if label:
        return label
    details = entry.details or {}
    if entry.target_type == "Request" and details.get("number"):
        return f"N° {details['number']}"
    if entry.target_type in ("Agent", "PartnerAccount"):
        return "[compte supprimé]"
    for key in ("name", "title", "subject", "filename"):
        if details.get(key):
            return str(details[key])
    return "[élément supprimé]"


def _target_keys(entry: AuditEntry) -> set[str]:
    """The details that say what the sentence's {target} already says (a request's number…)."""
    if entry.target_type == "Request":
        return {"number"}
    if entry.target_type in ("Agent", "PartnerAccount"):
        return {"login", "username"}
    return {"name", "title", "subject"}


def _role_text(prefix: str, role: str | None) -> str:
    """A partner account's role, from its action's name, as one word: « le compte gestionnaire de … »
    (« Gestionnaire Partenaire »); an agent's role (a detail) as its label: « Agent CPAM »."""
    from ..models import PartnerRole
    from .audit_texts import VALUE_LABELS

    if prefix in {r.value for r in PartnerRole}:
        return PartnerRole(prefix).label.split(" ")[0].lower()
    return VALUE_LABELS["role"].get(role or "", "")


def target_type_label(target_type: str | None) -> str:
    from .audit_texts import TARGET_TYPES

    if not target_type:
        return ""
    return TARGET_TYPES.get(target_type, "Autre objet")


def detail_lines(entry: AuditEntry) -> list[str]:
    """« What changed »: each detail the sentence does not already say, « Libellé : valeur » in
    French; an update's fields as « Nom : « A » → « B » » (or their names when only they were kept)."""
    from .audit_texts import DETAIL_LABELS, FIELD_LABELS, HIDDEN_DETAILS

    details = entry.details or {}
    _template, used = _sentence(entry)
    if "target" in used:
        used = used | _target_keys(entry)
    lines = []
    for key, value in details.items():
        if key in used or key in HIDDEN_DETAILS or value in (None, "", [], {}):
            continue
        if key == "changed" and isinstance(value, dict):
            lines += [f"{FIELD_LABELS.get(field, _humane(field))} : {_quoted(pair)}" for field, pair in value.items()]
        elif key == "changed":
            fields = ", ".join(FIELD_LABELS.get(str(f), _humane(str(f))) for f in value or [])
            lines.append(f"Champs modifiés : {fields}" if fields else "Aucun champ modifié")
        else:
            lines.append(f"{DETAIL_LABELS.get(key, _humane(key))} : {_shown(key, value)}")
    return lines


def _quoted(pair) -> str:
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        old, new = (_shown("", v) for v in pair)
        return f"« {old} » → « {new} »"
    return _shown("", pair)


def _humane(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _shown(key: str, value: Any) -> str:
    """A detail's value as text: yes/no, dates in French, codes by their label, lists joined."""
    from .audit_texts import VALUE_LABELS

    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if key in ("offers", "motives") and isinstance(value, list):
        return str(len(value))
    if key == "filters" and isinstance(value, list):
        return "; ".join(_filter_text(f) for f in value) or "aucun"
    if isinstance(value, list):
        return ", ".join(_shown(key, v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} : {_shown(k, v)}" for k, v in value.items())
    if isinstance(value, str):
        moment = _iso_moment(value)
        if moment is not None:
            return moment
        labels = VALUE_LABELS.get(key)
        if labels and value in labels:
            return labels[value]
    return str(value)


def _filter_text(flt) -> str:
    from .audit_texts import VALUE_LABELS

    if not isinstance(flt, dict):
        return str(flt)
    statuses = VALUE_LABELS["status"]
    value = ", ".join(statuses.get(v, v) for v in str(flt.get("valeur", "")).split(","))
    return " ".join(str(p) for p in (flt.get("filtre"), flt.get("opération"), f"« {value} »") if p)


def _iso_moment(value: str) -> str | None:
    """An ISO date or datetime stored as text (UTC for a datetime), as the pages show it."""
    if len(value) < 10 or value[4:5] != "-" or value[7:8] != "-":
        return None
    try:
        if len(value) == 10:
            return format_date(date.fromisoformat(value))
        return format_datetime(datetime.fromisoformat(value))
    except ValueError:
        return None


def _plain(value):
    """A value as the JSON details keep it."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
