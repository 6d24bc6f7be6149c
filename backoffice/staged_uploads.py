"""The files a posted form keeps across its refusals (staged uploads), for both front ends.

A form that takes files sends back, as hidden `staged` fields, the keys of the files accepted at an
earlier try; a removal field names those to drop; its file input carries the new ones. The names
of the removal field differ and stay (templates, tests and bookmarked forms use them): the back
office's request screen has `remove_staged` checkboxes (views/requests/screen.py FormState), the
portal's request forms a `discard` button per file (partner_portal/request_forms.py). So nobody
chooses a file twice, and a refused file or a refused form never loses the accepted ones (R-REQ-3).
services/uploads checks, stores and finds the files; this module reads them off the request.
"""

from flask import request

from .extensions import db
from .models import StagedUpload
from .services import uploads
from .services.attachments import MAX_SIZE, CheckedFile, clean_filename


class StagedUploads:
    """The staged keys, removals and new files of one posted form, for their owner (an Agent or a
    PartnerAccount: another owner's keys are ignored)."""

    def __init__(self, owner, keys=(), removed=(), posted=()):
        self.owner = owner
        self.removed: list[str] = list(dict.fromkeys(key for key in removed if key))  # removal asked
        self.keys: list[str] = [key for key in keys if key and key not in self.removed]
        self.posted = list(posted)  # the new files (werkzeug FileStorage), not read yet
        self.files: list[StagedUpload] = []  # the staged files, once loaded

    @classmethod
    def from_request(cls, owner, *, removal_field: str, files_field: str = "files") -> "StagedUploads":
        """Those of the current request's form: `staged` keys, `removal_field` keys, `files_field` files."""
        return cls(
            owner,
            keys=request.form.getlist("staged"),
            removed=request.form.getlist(removal_field),
            posted=[item for item in request.files.getlist(files_field) if item and item.filename],
        )

    def read(self, limit: int | None = None) -> tuple[list[CheckedFile], list[str]]:
        """Drop the files whose removal was asked (committed), then check the new ones by content:
        (the accepted new files, French refusals). Nothing new is stored yet: a form that goes
        through writes its new files once, with what it creates; keep() stages them otherwise.

        With a limit, the kept files are loaded first (self.files, self.keys: the owner's only) and
        a new file past the limit is refused unread."""
        for key in self.removed:
            uploads.discard(self.owner, key)
        if limit is None:
            # One byte over the limit is enough for the size refusal; no more is read into memory.
            return uploads.check_all([(item.filename, item.read(MAX_SIZE + 1)) for item in self.posted])
        self._load()
        accepted: list[CheckedFile] = []
        refusals: list[str] = []
        for item in self.posted:
            if len(self.files) + len(accepted) >= limit:
                refusals.append(_over_limit(item.filename, limit))
                continue
            checked, errors = uploads.check_all([(item.filename, item.read(MAX_SIZE + 1))])
            accepted += checked
            refusals += errors
        return accepted, refusals

    def keep(self, checked: list[CheckedFile], *, commit: bool = True) -> list[StagedUpload]:
        """Stage the accepted new files beside the kept ones (one commit for all; commit=False
        leaves it to the caller's transaction) and return every staged file of the form
        (self.files): the form comes back with them, whatever happened to the rest."""
        self.keys += uploads.stage_checked(self.owner, checked)
        if commit:
            db.session.commit()
        return self._load()

    def collect(self, limit: int | None = None) -> tuple[list[StagedUpload], list[str]]:
        """read() then keep(): (every staged file of the form, French refusals)."""
        accepted, refusals = self.read(limit)
        return self.keep(accepted), refusals

    def _load(self) -> list[StagedUpload]:
        self.files = uploads.staged(self.owner, self.keys)
        self.keys = [item.key for item in self.files]
        return self.files


def _over_limit(filename: str, limit: int) -> str:
    name = clean_filename(filename)
    if not limit:
        return f"Le fichier « {name} » n'a pas été ajouté : le nombre maximum de pièces jointes est atteint."
    plural = "s" if limit > 1 else ""
    return f"Le fichier « {name} » n'a pas été ajouté : {limit} pièce{plural} jointe{plural} maximum."
