"""The demo's content: caisses, back-office users, structures, conventions, partner accounts, news, people.

Names are the manuals' examples or invented; no real person, no health data. Dates are given in days
from today, so the demo stays alive whatever the day it is loaded.
"""

from ..models import AgentRole, PartnerRole

PASSWORD = "Demo-Espace-2026"  # noqa: S105 (the documented demo password)

# (name, code)
CAISSES = [
    ("CPAM GIRONDE", "331"),
    ("CPAM OISE", "601"),
    ("CPAM LANDES", "401"),
    ("CPAM DORDOGNE", "241"),
    ("CPAM LOT ET GARONNE", "471"),
]

# (login, first name, last name, role, caisse code)
AGENTS = [
    ("admin", "Claire", "NATIONALE", AgentRole.NATIONAL_ADMIN, None),
    ("admin.gironde", "Hélène", "MARTIN", AgentRole.CAISSE_ADMIN, "331"),
    ("agent.gironde", "Paul", "BERNARD", AgentRole.AGENT, "331"),
    ("agent2.gironde", "Julie", "FAURE", AgentRole.AGENT, "331"),  # a colleague: reassignments
    ("admin.oise", "Sophie", "LEROY", AgentRole.CAISSE_ADMIN, "601"),
    ("agent.oise", "Luc", "MOREAU", AgentRole.AGENT, "601"),
]
# Registers every structure (so its registry shows them until another caisse signs a convention).
REGISTRAR = "admin.gironde"

# Luhn-valid invented SIRET numbers; the first structure is the demo's main one.
STRUCTURES = [
    # name, type, siret, address, postal code, city, members
    (
        "Association Solidarité Santé Aquitaine",
        "Association",
        "12345678900015",
        "12 rue des Remparts",
        "33000",
        "BORDEAUX",
        8,
    ),
    ("CCAS de Mérignac", "CCAS", "21330281000014", "1 place Charles de Gaulle", "33700", "MERIGNAC", 30),
    (
        "PASS hospitalière de Beauvais",
        "PASS hospitalière",
        "26600005800013",
        "40 avenue Léon Blum",
        "60000",
        "BEAUVAIS",
        14,
    ),
]

# The main structure meets every situation of R-ORG-2..5 (see README).
# (key, structure index, caisse code, start and end in days from today, service offers, technician cap)
CONVENTIONS = [
    ("current", 0, "331", -400, 700, slice(None), None),
    ("upcoming", 0, "401", 20, 1100, slice(None), None),  # R-ORG-2
    ("ending", 0, "241", -300, 15, slice(0, 3), None),  # R-ORG-3
    ("ended_pending", 0, "601", -500, -10, slice(None), None),  # R-ORG-4: a request still awaits the caisse
    ("grace", 0, "471", -600, -20, slice(1, 4), None),  # R-ORG-5: all resolved, 30 days of grace
    # A lower cap recorded by the caisse: the CCAS is at its cap of 2 technicians.
    ("ccas", 1, "331", -100, 900, slice(None), 2),
    ("pass", 2, "601", -200, 500, slice(None), None),
]

# (login, civility, first name, last name, function, role, structure index)
ACCOUNTS = [
    ("m.lapierre", "Monsieur", "Marc", "LAPIERRE", "Directeur", PartnerRole.MANAGER, 0),
    ("v.chausson", "Monsieur", "Victor", "CHAUSSON", "Travailleur social", PartnerRole.TECHNICIAN, 0),
    ("m.pichon", "Madame", "Maryse", "PICHON", "Conseillère", PartnerRole.TECHNICIAN, 0),
    ("a.durand", "Madame", "Anne", "DURAND", "Responsable", PartnerRole.MANAGER, 1),
    ("j.petit", "Monsieur", "Julien", "PETIT", "Cadre de santé", PartnerRole.MANAGER, 2),
    # Technicians of the CCAS: two active (its cap of 2), one inactive.
    ("l.bernard", "Madame", "Lucie", "BERNARD", "Assistante sociale", PartnerRole.TECHNICIAN, 1),
    ("t.roux", "Monsieur", "Thomas", "ROUX", "Conseiller", PartnerRole.TECHNICIAN, 1),
    ("n.faure", "Madame", "Nadia", "FAURE", "Médiatrice", PartnerRole.TECHNICIAN, 1),
    # An inactive technician of the demo structure (shown grey, last in "Gestion des comptes").
    ("s.garnier", "Madame", "Sarah", "GARNIER", "Bénévole", PartnerRole.TECHNICIAN, 0),
]
ACCOUNT_PHONE = "05.56.00.00.00"
INACTIVE = ("n.faure", "s.garnier")  # inactivated 40 days ago
CGU_ACCEPTED = ("v.chausson", "m.pichon")  # accepted 60 days ago
REQUESTERS = ("v.chausson", "m.pichon")  # file CPAM GIRONDE's demo requests in turn
NEWSLETTER_SUBSCRIBER = "m.pichon"

# R-HOME-1: news for CPAM GIRONDE (one still to come) and CPAM DORDOGNE, none elsewhere: the other
# caisses show the "no news" landing (accounts page / deposit page).
# (caisse code, title, body, publication in days from now, banner colour or None)
NEWS = [
    (
        "331",
        "Nouvelle version d'Espace Partenaires",
        "Espace Partenaires évolue : la page d'accueil présente désormais les actualités de votre "
        "caisse, et vous pouvez vous abonner à la newsletter partenaires.",
        -2,
        (0, 84, 166),
    ),
    (
        "331",
        "Campagne de vaccination contre la grippe",
        "La campagne de vaccination contre la grippe saisonnière est ouverte. Orientez les "
        "personnes que vous accompagnez vers leur médecin ou leur pharmacien.",
        -12,
        None,
    ),
    (
        "331",
        "Permanences d'accueil de l'été",
        "Les horaires des permanences d'accueil changent pendant l'été : ils seront publiés ici.",
        5,  # not yet published: it appears on its date
        None,
    ),
    (
        "241",
        "Complémentaire santé solidaire : les nouveautés",
        "Les plafonds de ressources de la Complémentaire santé solidaire ont été revalorisés. "
        "Contactez-nous pour toute question sur un dossier.",
        -4,
        (0, 133, 88),
    ),
]

# Invented people (the manuals' examples and a few more): no real person, no health data.
# (civility, last name, first name, birth date (y, m, d), birth place)
PEOPLE = [
    ("Madame", "TUTU", "Joséphine", (1971, 10, 10), "44"),
    ("Monsieur", "PRINCE", "Marius", (1958, 3, 2), "33"),
    ("Madame", "LAFLEUR", "Rosalie", (1990, 6, 21), "2A"),
    ("Monsieur", "CASTAGNE", "Aimé", (1984, 12, 1), "Portugal"),
    ("Madame", "BELAIR", "Capucine", (2001, 1, 15), "33"),
    ("Monsieur", "TOURNESOL", "Tryphon", (1949, 5, 30), "24"),
]
PERSON_PHONE = "06.00.00.00.00"

# The person of the two requests that show R-ORG-4 and R-ORG-5 (filed to OISE and LOT ET GARONNE).
CONVENTION_PERSON = ("Madame", "EXEMPLE", "Camille", "33")
CONVENTION_COMMENT = "Demande de démonstration : aucune donnée de santé."
CONVENTION_ANSWER = "Réponse de démonstration."

# CPAM GIRONDE's queue: the texts of the requests, answers and Q/R exchanges.
REQUEST_COMMENT = (
    "Demande de démonstration ({offer}) : merci de rappeler la personne pour faire le point sur sa "
    "situation administrative."
)
ANSWER = "Bonjour, le dossier est traité. Vous trouverez les éléments dans la réponse. Cordialement."
QUESTION = "Question {turn} : pouvez-vous préciser la suite donnée au dossier ?"
REPLY = "Réponse {turn} : le dossier suit son cours, nous revenons vers vous rapidement."

# A one-page PDF for every demo attachment.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

# « Modèles de réponse » of the caisses that have an admin in the demo (issue 13 §4): a few per offer,
# some for one motive, some general. (caisse code, offer code or None, motive label or None, title, text)
REPLY_TEMPLATES = [
    (
        "331",
        None,
        None,
        "Accusé de réception",
        "Bonjour {demandeur},\n\nNous avons bien reçu votre demande N° {numero} du {date_depot}. Elle est en "
        "cours de traitement par nos services.\n\nCordialement,\n{agent}\nCPAM GIRONDE",
    ),
    (
        "331",
        None,
        None,
        "Demande de pièce complémentaire",
        "Bonjour {demandeur},\n\nPour traiter la demande N° {numero}, il nous manque un justificatif. Merci de "
        "nous le transmettre en réponse à ce message.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "contact",
        None,
        "Proposition de rendez-vous partenaire",
        "Bonjour {demandeur},\n\nSuite à votre demande N° {numero}, nous vous proposons un rendez-vous avec "
        "votre conseiller partenaires. Merci de nous indiquer vos disponibilités pour la semaine "
        "prochaine.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "contact",
        "Gérer la convention de partenariat",
        "Convention de partenariat : suite donnée",
        "Bonjour {demandeur},\n\nVotre demande N° {numero} concernant la convention de partenariat de la "
        "structure {structure} a été transmise au service en charge des conventions, qui reviendra vers "
        "vous.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "difficulty",
        None,
        "Signalement pris en compte",
        "Bonjour {demandeur},\n\nLe signalement N° {numero} concernant {civilite_personne} {nom_personne} "
        "{prenom_personne} a été étudié. Le dossier a été régularisé et les droits sont à jour.\n\n"
        "Cordialement,\n{agent}",
    ),
    (
        "331",
        "difficulty",
        "Saisine mission accompagnement santé",
        "Saisine transmise à la Mission accompagnement santé",
        "Bonjour {demandeur},\n\nLa saisine N° {numero} pour {civilite_personne} {nom_personne} a été "
        "transmise à la Mission accompagnement santé. Un conseiller contactera la personne dans les "
        "prochains jours.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "appointment",
        None,
        "Rendez-vous fixé",
        "Bonjour {demandeur},\n\nUn rendez-vous est fixé pour {civilite_personne} {nom_personne} "
        "{prenom_personne} (demande N° {numero}). La personne recevra une convocation précisant la date, "
        "l'heure et le lieu.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "appointment",
        "C2S",
        "Rendez-vous C2S : pièces à apporter",
        "Bonjour {demandeur},\n\nPour le rendez-vous Complémentaire santé solidaire de {civilite_personne} "
        "{nom_personne} (demande N° {numero}), la personne doit apporter ses justificatifs de ressources "
        "des 12 derniers mois et une pièce d'identité.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "file_review",
        None,
        "Dossier étudié",
        "Bonjour {demandeur},\n\nLe dossier de {civilite_personne} {nom_personne} {prenom_personne} "
        "(demande N° {numero} du {date_depot}) a été étudié. La décision est envoyée à la personne par "
        "courrier.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "file_review",
        "Demande d'aide financière",
        "Aide financière : passage en commission",
        "Bonjour {demandeur},\n\nLa demande d'aide financière pour {civilite_personne} {nom_personne} "
        "(N° {numero}) sera présentée à la prochaine commission d'action sanitaire et sociale. La "
        "décision sera notifiée par courrier.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "document",
        None,
        "Document envoyé",
        "Bonjour {demandeur},\n\nLe document demandé pour {civilite_personne} {nom_personne} "
        "{prenom_personne} (demande N° {numero}) est joint à cette réponse.\n\nCordialement,\n{agent}",
    ),
    (
        "331",
        "document",
        "Attestation de droits",
        "Attestation de droits jointe",
        "Bonjour {demandeur},\n\nVous trouverez ci-joint l'attestation de droits de {civilite_personne} "
        "{nom_personne} {prenom_personne}. Elle est aussi disponible sur le compte ameli de la personne."
        "\n\nCordialement,\n{agent}",
    ),
    (
        "601",
        None,
        None,
        "Accusé de réception",
        "Bonjour {demandeur},\n\nNous avons bien reçu votre demande N° {numero} du {date_depot}. Elle est en "
        "cours de traitement.\n\nCordialement,\n{agent}\nCPAM OISE",
    ),
    (
        "601",
        "difficulty",
        None,
        "Signalement en cours d'étude",
        "Bonjour {demandeur},\n\nLe signalement N° {numero} est en cours d'étude par nos services. Nous "
        "revenons vers vous dès que possible.\n\nCordialement,\n{agent}",
    ),
]
