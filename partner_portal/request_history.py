"""'Historique des demandes' (R-HIS-1..3): the 8 criteria read from the query string, the page.

A criterion typed wrong (a number with letters, a date that is not one) gives a French message
and an empty list, never a 500; the technical parameters (page, sort, size) fall back silently.
"""

from flask import request, url_for

from backoffice.inputs import FORBIDDEN_CHARACTER_MESSAGE, forbidden_character
from backoffice.models import RequestStatus
from backoffice.services import history as history_service

from .request_forms import parse_date, parse_int

ORDERS = {"asc": "A-Z", "desc": "Z-A"}


def criteria_from_args(args, structure_id: int) -> history_service.Criteria:
    c = history_service.Criteria()
    errors = {}
    number = (args.get("number") or "").strip()
    if number:
        if not number.isdigit() or len(number) > 10:
            errors["number"] = "Le numéro de demande ne contient que des chiffres (10 caractères)."
        else:
            c.number = number
    requester = (args.get("requester") or "").strip()
    if requester:
        c.requester_id = parse_int(requester)
        if c.requester_id is None:
            errors["requester"] = "Veuillez sélectionner un demandeur de la liste."
    c.person = " ".join((args.get("person") or "").split())[:60]
    if forbidden_character(c.person):
        errors["person"] = FORBIDDEN_CHARACTER_MESSAGE  # kept as typed; no search is run
    offer = (args.get("offer") or "").strip()
    if offer:
        c.offer_id = parse_int(offer)
        if c.offer_id is None:
            errors["offer"] = "Veuillez sélectionner une offre de service de la liste."
    status = (args.get("status") or "").strip()
    if status:
        if status in {s.value for s in history_service.PARTNER_STATUSES}:
            c.status = status
        else:
            errors["status"] = "Veuillez sélectionner un statut de la liste."
    motive = (args.get("motive") or "").strip()
    if motive:
        c.motive_id = parse_int(motive)
        if c.motive_id is None:
            errors["motive"] = "Veuillez sélectionner un motif de la liste."
    for name, label in (("date_from", "de début"), ("date_to", "de fin")):
        raw = (args.get(name) or "").strip()
        if raw:
            value = parse_date(raw)
            if value is None or value.year < 1900:
                errors[name] = f"La date {label} de dépôt doit être une date valide au format JJ/MM/AAAA."
            else:
                setattr(c, name, value)
    if c.date_from and c.date_to and c.date_to < c.date_from:
        errors["date_to"] = "La date de fin de dépôt doit être postérieure à la date de début de dépôt."
    c.sort = args.get("sort") if args.get("sort") in history_service.SORTS else "deposited_at"
    c.order = args.get("order") if args.get("order") in ORDERS else "desc"
    per_page = parse_int(args.get("per_page"))
    c.per_page = per_page if per_page in history_service.PAGE_SIZES else history_service.PAGE_SIZES[0]
    page = parse_int(args.get("page"))
    c.page = page if page and 0 < page < 100_000 else 1
    c.errors = errors
    return c


def query_args(c: history_service.Criteria, raw) -> dict:
    """The criteria as they appear in links (pagination keeps them), empty ones left out."""
    values = {
        "number": raw.get("number", ""),
        "requester": raw.get("requester", ""),
        "person": c.person,
        "offer": raw.get("offer", ""),
        "status": c.status,
        "motive": raw.get("motive", ""),
        "date_from": c.date_from.isoformat() if c.date_from else raw.get("date_from", ""),
        "date_to": c.date_to.isoformat() if c.date_to else raw.get("date_to", ""),
        "sort": c.sort if c.sort != "deposited_at" else "",
        "order": c.order if c.order != "desc" else "",
        "per_page": c.per_page if c.per_page != history_service.PAGE_SIZES[0] else "",
    }
    return {k: v for k, v in values.items() if v not in ("", None)}


def page_numbers(current: int, last: int) -> list[int | None]:
    """1 … 4 5 6 … 12: the first, the last and the neighbours of the current page (None = gap)."""
    if last <= 7:
        return list(range(1, last + 1))
    shown = sorted({1, last, current - 1, current, current + 1} & set(range(1, last + 1)))
    result: list[int | None] = []
    for number in shown:
        if result and number - result[-1] > 1:
            result.append(None)
        result.append(number)
    return result


def history_context(account, access, c: history_service.Criteria) -> dict:
    if c.errors:
        rows, total = [], 0
    else:
        rows, total = history_service.page(account.structure_id, access.caisse.id, c)
        last = max((total + c.per_page - 1) // c.per_page, 1)
        if c.page > last:  # a page past the end (criteria changed): show the last one
            c.page = last
            rows, total = history_service.page(account.structure_id, access.caisse.id, c)
    last = max((total + c.per_page - 1) // c.per_page, 1)
    first_row = (c.page - 1) * c.per_page + 1 if total else 0
    options = history_service.criteria_options(account.structure_id, access.convention.id, access.caisse)
    motives_by_offer = options.offers_with_motives
    offers = [offer for offer, _motives in motives_by_offer]
    return {
        "rows": rows,
        "total": total,
        "criteria": c,
        "raw": request.args,
        "args": query_args(c, request.args),
        "first_row": first_row,
        "last_row": min(c.page * c.per_page, total),
        "last_page": last,
        "pages": page_numbers(c.page, last),
        "requesters": options.requesters,
        "offers": offers,
        "motives_by_offer": motives_by_offer,
        "statuses": history_service.PARTNER_STATUSES,
        "sorts": history_service.SORTS,
        "orders": ORDERS,
        "page_sizes": history_service.PAGE_SIZES,
        "can_file": access.can_file_requests,
        "new_status": RequestStatus.NEW.value,
        "detail_url": _detail_url(),
    }


def _detail_url():
    """The detail link of each card, from one url_for per page rather than one per card (a request
    number is ten digits: it needs no quoting)."""
    pattern = url_for("portal.request_detail", number="0000000000")
    head, _, tail = pattern.rpartition("0000000000")
    return lambda number: f"{head}{number}{tail}"
