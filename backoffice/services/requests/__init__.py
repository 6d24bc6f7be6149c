"""Requests (SPEC §5–6): filing, reading and every status change, re-exported for the callers.

filing.py checks what is typed and files a request, reading.py reads files, the exchange's state and
the history, transitions.py makes each status change one guarded UPDATE (guarded.py) and
refusals.py says in French why one was refused. ownership.py says who handles a request and
reassigns it; notes.py writes the caisse's internal notes.
"""

# The queue's order (R-BO-1) and R-BO-5 in SQL live with the queue's query (services/queue.py).
from ..queue import overdue_condition, queue_order
from .filing import (
    ACCOMPANIMENT,
    APPOINTMENT_MODES,
    CANCEL_REASONS,
    CARE,
    CAUSES,
    COMMENT_MAX,
    CONSENT_TEXT,
    DURATION,
    RENUNCIATION,
    SAISINE_MOTIVE,
    file_request,
    motives_for,
)
from .notes import NOTE_MAX, add_note
from .ownership import (
    REASSIGNABLE,
    REASSIGNABLE_VALUES,
    handler_condition,
    is_staff,
    may_handle,
    may_reassign,
    needs_reassignment,
    orphaned_condition,
    reassign_choices,
    reassign_request,
    staff_condition,
)
from .reading import (
    EXCHANGE_DAYS,
    EXCHANGE_MAX_FILES,
    EXCHANGE_MAX_ROUNDS,
    HANDLING_TARGET,
    RECEIVED_FILES_DAYS,
    agent_attachment,
    caisse_files,
    cancelled_for_partner,
    download_for_agent,
    download_for_partner,
    exchange_deadline,
    exchange_files_count,
    exchange_state,
    get_for_partner,
    notes,
    partner_files,
    partner_message_count,
    received_file_available,
    record_queue_export,
    record_view,
    request_files,
    request_timeline,
    status_history,
    time_left,
)
from .refusals import (
    ALREADY_ANSWERED,
    ALREADY_COMPLETED,
    CANCELLED_BY_PARTNER,
    MAX_ROUNDS_REACHED,
    NATIONAL_NO_NOTE,
    NATIONAL_READS_ONLY,
    NOT_IN_CAISSE,
    NOT_IN_STRUCTURE,
    not_the_owner,
    owned_by,
)
from .transitions import (
    answer_request,
    caisse_reply,
    cancel_request,
    close_exchange,
    close_expired_exchanges,
    complete_request,
    partner_message,
    take_request,
)
