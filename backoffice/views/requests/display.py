"""What the queue's rows and the request screen both show: the statuses' badges, the 48-hour
label (R-BO-5), the person concerned and the request screen's URL."""

import math

from flask import url_for

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


def person_label(req: Request) -> str:
    if not req.person_last_name:
        return ""
    return f"{req.person_civility or ''} {req.person_last_name} {req.person_first_name or ''}".strip()


def process_url(request_id=None) -> str:
    """The request screen's URL ("Traiter la demande") for that request, or without its id."""
    return url_for("requests.process_view", id=request_id)
