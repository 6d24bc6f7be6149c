"""Search folding: the form in which names are stored for search and search words are matched.

"Solidarité", "SOLIDARITE" and "solidarite" fold to "solidarite"; "Œuvre" to "oeuvre". The same
function folds the stored columns (Request.person_search, Structure.search_name, written by the
models' flush listeners and by bench/load.py) and the words an agent types (services/queue.py), so
an accent-insensitive, case-insensitive search is a plain LIKE on an indexed column, with the same
result on SQLite and PostgreSQL (pg_trgm indexes the folded column; no `unaccent` dictionary, whose
rules differ between PostgreSQL versions, is involved).
"""

import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})


def fold(text: str | None) -> str:
    """Lowercase, without accents or ligatures, runs of spaces as one."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.lower().split())


def person_search(last_name: str | None, first_name: str | None) -> str | None:
    """What Request.person_search holds: the folded "nom prénom" (None for a request without a person)."""
    folded = fold(f"{last_name or ''} {first_name or ''}")
    return folded or None
