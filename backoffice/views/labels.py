"""One French label per field name, for the back-office lists, details and forms.

Flask-Admin reads a view's `column_labels` for the list headers, the details page, the filter
names, the search placeholder and every form field whose form_args give no label. A view takes
the labels of the fields it shows from here, `column_labels = labels.of("title", "caisse")`, and
names its own only where its wording differs (`created_at`: « Créée le » or « Créé le »).
"""

FIELDS = {
    "active": "Actif",
    "address": "Adresse",
    "birth_name": "Nom patronymique",
    "body": "Texte",
    "caisse": "Organisme",
    "caisse_id": "Organisme",
    "city": "Commune",
    "civility": "Civilité",
    "code": "Code",
    "email": "Adresse e-mail",
    "first_name": "Prénom",
    "function": "Fonction",
    "last_name": "Nom",
    "login": "Identifiant",
    "member_count": "Nombre de membres",
    "motive": "Motif",
    "name": "Nom",
    "phone": "Téléphone",
    "postal_code": "Code postal",
    "role": "Rôle",
    "service_offer": "Offre de service",
    "service_offers": "Offres de service",
    "siret": "SIRET",
    "state": "État",
    "structure": "Structure",
    "subject": "Objet",
    "title": "Titre",
    "type": "Type",
    "usage_name": "Nom usuel",
    "username": "Identifiant",
}


def of(*names: str, **own: str) -> dict[str, str]:
    """The labels of `names` (each must be in FIELDS), plus the view's own labels."""
    return {**{name: FIELDS[name] for name in names}, **own}
