"""What the queue's rows and the request screen both show: the statuses' badges, the 48-hour
label (R-BO-5), how long a partner's message has been waiting, the person concerned and the request
screen's URL."""

import math

from flask import url_for

from ...clock import now
from ...models import Request, RequestStatus
from ...services import requests as request_service

STATUS_BADGES = {
    RequestStatus.NEW.value: "primary",
    RequestStatus.TAKEN.value: "info",
    RequestStatus.RESOLVED.value: "success",
    RequestStatus.MESSAGE_SENT.value: "warning",
    RequestStatus.MESSAGE_RECEIVED.value: "secondary",
    RequestStatus.CLOSED.value: "dark",
    RequestStatus.CANCELLED.value: "light",
}


def time_left_label(req: Request) -> str:
    """R-BO-5 on a "Nouveau" row: "reste 12h" / "en retard de 3h" (minutes under one hour)."""
    left = request_service.time_left(req)
    if left is None:
        return ""
    seconds = left.total_seconds()
    late = seconds < 0
    seconds = abs(seconds)
    if seconds >= 3600:
        amount = f"{int(seconds // 3600)}h"
    else:
        amount = f"{math.ceil(seconds / 60)} min"
    return f"en retard de {amount}" if late else f"reste {amount}"


def waiting_label(req: Request) -> str:
    """A partner's message waiting for the caisse (« Message envoyé »), since its status date:
    "message en attente depuis 2 j 3 h" (hours under a day, minutes under an hour); else ""."""
    if req.status != RequestStatus.MESSAGE_SENT.value or req.status_changed_at is None:
        return ""
    seconds = max((now() - req.status_changed_at).total_seconds(), 0)
    days, rest = divmod(int(seconds), 86400)
    hours = rest // 3600
    if days:
        amount = f"{days} j {hours} h" if hours else f"{days} j"
    elif hours:
        amount = f"{hours} h"
    else:
        amount = f"{max(math.ceil(seconds / 60), 1)} min"
    return f"message en attente depuis {amount}"


def person_label(req: Request) -> str:
    if not req.person_last_name:
        return ""
    return f"{req.person_civility or ''} {req.person_last_name} {req.person_first_name or ''}".strip()


def process_url(request_id=None) -> str:
    """The request screen's URL ("Traiter la demande") for that request, or without its id."""
    return url_for("requests.process_view", id=request_id)
