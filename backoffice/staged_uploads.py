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

        With a limit, the kept files are loaded first (self.files, self.keys: the owner's only; past
        the limit, the last ones are let go) and a new file past the limit is refused unread: one
        message names every file not added, the form keeps the first `limit` ones."""
        for key in self.removed:
            uploads.discard(self.owner, key)
        if limit is None:
            # One byte over the limit is enough for the size refusal; no more is read into memory.
            return uploads.check_all([(item.filename, item.read(MAX_SIZE + 1)) for item in self.posted])
        self._load()
        left_out = [item.filename for item in self.files[limit:]]
        for item in self.files[limit:]:
            uploads.discard(self.owner, item.key)
        self.files, self.keys = self.files[:limit], self.keys[:limit]
        accepted: list[CheckedFile] = []
        refusals: list[str] = []
        for item in self.posted:
            if len(self.files) + len(accepted) >= limit:
                left_out.append(item.filename)
                continue
            checked, errors = uploads.check_all([(item.filename, item.read(MAX_SIZE + 1))])
            accepted += checked
            refusals += errors
        if left_out:
            refusals.append(_over_limit(left_out, limit))
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


def _over_limit(filenames: list[str], limit: int) -> str:
    """The one message for the files not added because the form holds `limit` files already."""
    names = ", ".join(f"« {clean_filename(name)} »" for name in filenames)
    subject = (
        f"Le fichier {names} n'a pas été ajouté"
        if len(filenames) == 1
        else f"Les fichiers {names} n'ont pas été ajoutés"
    )
    if not limit:
        return f"{subject} : le nombre maximum de pièces jointes est atteint."
    plural = "s" if limit > 1 else ""
    return f"{subject} : {limit} pièce{plural} jointe{plural} maximum."
