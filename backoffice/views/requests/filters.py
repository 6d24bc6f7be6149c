"""The work queue's filters (R-BO-1, R-BO-5, issue 13): each is a SQL condition on the request's own
columns (`condition`), which the queue's service (services/queue.py) applies; the offer, motive,
structure and agent options are the agent's caisse's, computed per request."""

from datetime import datetime, time, timedelta

from flask import g
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from sqlalchemy import not_

from ...clock import paris_to_utc
from ...services import caisse_cache
from ...services import queue as queue_service


class ConditionFilter:
    """A Flask-Admin filter written as one SQL condition: `apply` (Flask-Admin's) filters by it.
    Every filter class mixes this in and defines `condition` (the queue service applies it). A
    filter whose condition depends on its value only, not on the clock, says `timeless`: the
    page's statement is then kept once built (services/prebuilt.py)."""

    timeless = False

    def condition(self, value, alias=None):  # pragma: no cover - each subclass defines it
        raise NotImplementedError(f"{type(self).__name__} must define condition()")

    def apply(self, query, value, alias=None):
        return query.filter(self.condition(value, alias))


class StatusIn(ConditionFilter, BaseSQLAFilter):
    """One status or several at once (`flt0_statut_est=new,message_sent`: status IN (...)), chosen
    as tags among the statuses (Flask-Admin's "select2-tags" widget); `=new` alone still works."""

    timeless = True

    def __init__(self, column, name, options):
        super().__init__(column, name, options=options, data_type="select2-tags")
        self.values = {value for value, _label in options}

    def clean(self, value):
        return [part.strip() for part in value.split(",") if part.strip()]

    def validate(self, value):
        statuses = self.clean(value)
        return bool(statuses) and all(status in self.values for status in statuses)

    def condition(self, value, alias=None):
        return self.get_column(alias).in_(value)

    def operation(self):
        return "est"


class IdEqual(ConditionFilter, FilterEqual):
    """Equality on an id column; the options are computed per request for the agent's caisse.
    national_only: offered to the national admin only (« Organisme »)."""

    timeless = True

    def __init__(self, column, name, scoped_options, national_only=False):
        super().__init__(column, name)
        self.scoped_options = scoped_options
        self.national_only = national_only

    def clean(self, value):
        return int(value)

    def condition(self, value, alias=None):
        return self.get_column(alias) == value

    def operation(self):
        return "est"


def filter_choices(agent) -> caisse_cache.QueueChoices:
    """The filters' options and the rows' labels (services/caisse_cache: kept per worker under the
    caisse's options stamp), once per request."""
    if "ep_queue_choices" not in g:
        g.ep_queue_choices = caisse_cache.options_for(agent)
    return g.ep_queue_choices


def offer_options(agent):
    return filter_choices(agent).options["offer"]


def motive_options(agent):
    """The caisse's motives."""
    return filter_choices(agent).options["motive"]


def structure_options(agent):
    """Only the structures under convention with the agent's caisse: no other caisse's partners."""
    return filter_choices(agent).options["structure"]


def caisse_options(agent):
    """The caisses (the national admin's « Organisme »)."""
    return filter_choices(agent).options["caisse"]


ORPHANED = "a_reattribuer"


def owner_options(agent):
    """The caisse's agents (the inactive ones last), then « À réattribuer »."""
    return [*filter_choices(agent).options["agent"], (ORPHANED, "À réattribuer")]


class OwnerEqual(ConditionFilter, FilterEqual):
    """« Pris en charge par »: an agent of the caisse (served by ix_request_owner), or « À réattribuer »:
    the open requests whose owner is inactive or gone (services/requests/ownership.py)."""

    timeless = True

    def __init__(self, column, name):
        super().__init__(column, name)
        self.scoped_options = owner_options

    def clean(self, value):
        return value if value == ORPHANED else int(value)

    def condition(self, value, alias=None):
        if value == ORPHANED:
            return queue_service.orphaned_condition()
        return self.get_column(alias) == value

    def operation(self):
        return "est"


def _paris_day_start(day) -> datetime:
    return paris_to_utc(datetime.combine(day, time.min))


class DepositBetween(ConditionFilter, BaseSQLAFilter):
    """Deposit dates typed as Paris calendar days (both included), compared in UTC storage time."""

    timeless = True

    def __init__(self, column, name):
        super().__init__(column, name, data_type="daterangepicker")

    def clean(self, value):
        start, end = [datetime.strptime(part, "%Y-%m-%d").date() for part in value.split(" to ")]
        return start, end

    def validate(self, value):
        try:
            start, end = self.clean(value)
        except ValueError:
            return False
        return start <= end

    def condition(self, value, alias=None):
        start, end = value
        column = self.get_column(alias)
        return (column >= _paris_day_start(start)) & (column < _paris_day_start(end + timedelta(days=1)))

    def operation(self):
        return "entre"


class DepositFrom(ConditionFilter, BaseSQLAFilter):
    timeless = True

    def __init__(self, column, name):
        super().__init__(column, name, data_type="datepicker")

    def clean(self, value):
        return datetime.strptime(value, "%Y-%m-%d").date()

    def condition(self, value, alias=None):
        return self.get_column(alias) >= _paris_day_start(value)

    def operation(self):
        return "à partir du"


class DepositUntil(DepositFrom):
    def condition(self, value, alias=None):
        return self.get_column(alias) < _paris_day_start(value + timedelta(days=1))

    def operation(self):
        return "jusqu'au"


class OverdueFilter(ConditionFilter, BaseSQLAFilter):
    """R-BO-5: "Nouveau" for more than 48 hours (Oui), or not (Non)."""

    def __init__(self, column, name):
        super().__init__(column, name, options=[("1", "Oui"), ("0", "Non")])

    def condition(self, value, alias=None):
        condition = queue_service.overdue_condition()
        return condition if value == "1" else not_(condition)

    def operation(self):
        return "est"
