"""Bulk-load a benchmark database: N requests over 100 caisses and 10 000 structures, in minutes.

    .venv/bin/python bench/load.py --database-url postgresql://postgres@127.0.0.1:5432/ep_bench -n 1000000

The database is dropped and created again, the schema comes from `flask db upgrade` (the migrations
are what production runs), the catalogue and the caisses from the services, and the bulk rows
(structures, conventions, accounts, requests, status history, request counters) from COPY.
Every login created here uses BENCH_PASSWORD: AGENTS_PER_CAISSE agents per caisse (`agent.<code>`,
the one the bench measures, and `agent.<code>.2` … `.10`), who share the caisse's takes, and
technicians `tech<structure id>.a` / `.b` (two per structure, CGU accepted). The folded search
columns (Request.person_search, Structure.search_name) are written with the rows, by the same
functions as the models' flush listeners (backoffice/folding.py).
"""

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_PASSWORD = "Bench-Espace-Partenaires-2026"
CAISSES = 100
STRUCTURES = 10_000
# A CPAM team of ten agents shares one queue (issue 13): each take goes to one of them, so the
# measured agent's "Mes demandes" holds about a tenth of the caisse's open taken requests.
AGENTS_PER_CAISSE = 10
SECOND_CONVENTION_EVERY = 10  # one structure in ten also works with a second caisse
YEARS = 3
PARIS = ZoneInfo("Europe/Paris")

LAST_NAMES = (
    "MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFEBVRE "
    "LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT "
    "MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER FRANCOIS LEGRAND GAUTHIER "
    "GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON MARCHAND DUVAL "
    "DENIS DUMONT MARIE LEMAIRE NOEL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY RIVIERE LUCAS "
    "BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GERARD ROCHE RENARD SCHMITT ROY LEROUX COLIN VIDAL "
    "CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE "
    "BENOIT REY LECLERC PAYET ROLLAND LECLERCQ GUILLAUME LECOMTE LOPEZ JEAN DUPUY GUILLOT HUBERT "
    "BERGER CARPENTIER SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER FLEURY ROYER "
    "KLEIN JACQUET ADAM PARIS POIRIER MARTY AUBRY GUYOT CARRE CHARLES RENAULT CHARPENTIER MENARD "
    "MAILLARD BARON BERTIN BAILLY HERVE SCHNEIDER FERNANDEZ LEGALL COLLET LEGER BOUVIER JULIEN "
    "PREVOST MILLET PERROT DANIEL CHAUSSON PICHON LAPIERRE TUTU"
).split()
FIRST_NAMES = (
    "Marie Jean Pierre Michel Anne Philippe Nathalie Isabelle Catherine Sylvie Christophe Patrick "
    "Nicolas Julien Camille Léa Manon Emma Chloé Lucas Hugo Louis Gabriel Arthur Jules Inès Sarah "
    "Léo Paul Alice Lina Rose Victor Martine Joséphine Maryse Hélène Claire Thomas Antoine "
    "Rosalie Françoise Monique Jacqueline Bernadette Gérard Jacques André René Christiane Sébastien "
    "Stéphane Céline Aurélie Émilie Jérôme Frédéric Valérie Sandrine Laurence Brigitte Mathéo Zoé "
    "Noé Maëlle Anaïs Clément Théo Raphaël Élodie Agnès Odile Étienne Benoît Yannick Gaëlle"
).split()
CITIES = [
    ("33000", "Bordeaux"),
    ("60000", "Beauvais"),
    ("40000", "Mont-de-Marsan"),
    ("24000", "Périgueux"),
    ("47000", "Agen"),
    ("75011", "Paris"),
    ("69003", "Lyon"),
    ("13001", "Marseille"),
    ("59000", "Lille"),
    ("31000", "Toulouse"),
    ("44000", "Nantes"),
    ("67000", "Strasbourg"),
    ("35000", "Rennes"),
]
OFFER_WEIGHTS = {"contact": 10, "difficulty": 25, "appointment": 25, "file_review": 25, "document": 15}
RECENT_DAYS_AT_1M = 20
# (status, weight) for requests older than the recent window (20 days at 1 M), and within it.
OLD_STATUSES = [
    ("closed", 860),
    ("resolved", 60),
    ("cancelled", 30),
    ("taken", 20),
    ("message_received", 15),
    ("message_sent", 10),
    ("new", 5),
]
RECENT_STATUSES = [
    ("new", 25),
    ("taken", 20),
    ("resolved", 30),
    ("message_sent", 8),
    ("message_received", 7),
    ("closed", 5),
    ("cancelled", 5),
]
CANCEL_REASONS = ["La demande a été résolue via un autre canal", "La demande n'est plus justifiée"]


def _log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", flush=True)


def libpq_url(url: str) -> str:
    """postgresql+psycopg://… (SQLAlchemy) or postgres://… → postgresql://… (libpq)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def _server_and_name(url: str) -> tuple[str, str]:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    info = conninfo_to_dict(libpq_url(url))
    name = info.get("dbname") or "ep_bench"
    info["dbname"] = "postgres"
    return make_conninfo(**info), name


def recreate_database(url: str) -> None:
    server, name = _server_and_name(url)
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing database name {name!r}")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str) -> bool:
    server, name = _server_and_name(url)
    with psycopg.connect(server, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def migrate(url: str) -> None:
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": libpq_url(url)}
    env.pop("FLASK_ENV_NAME", None)
    flask = ROOT / ".venv" / "bin" / "flask"
    subprocess.run(
        [str(flask), "db", "upgrade"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _tsv(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")


def _line(*values) -> str:
    return "\t".join(_tsv(v) for v in values) + "\n"


class _Copy:
    """Buffered COPY … FROM STDIN in text format (one write per ~1 MB)."""

    def __init__(self, cur, table: str, columns: list[str]):
        self.context = cur.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN')
        self.copy = self.context.__enter__()
        self.buffer: list[str] = []
        self.size = 0
        self.rows = 0

    def add(self, *values) -> None:
        line = _line(*values)
        self.buffer.append(line)
        self.size += len(line)
        self.rows += 1
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.copy.write("".join(self.buffer))
            self.buffer, self.size = [], 0

    def close(self) -> None:
        self.flush()
        self.context.__exit__(None, None, None)


def _siret(n: int) -> str:
    """A 14-digit SIRET with a valid Luhn check digit, unique per n."""
    body = f"9{n:012d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def _app_setup(url: str) -> dict:
    """The catalogue and the 100 caisses through the services; one password hash for every login."""
    from backoffice import create_app
    from backoffice.extensions import db
    from backoffice.models import CaisseMotive, Motive, ServiceOffer
    from backoffice.services import caisses as caisse_service
    from backoffice.services import catalog
    from backoffice.services.passwords import hash_password
    from config import normalize_database_url

    app = create_app({"SQLALCHEMY_DATABASE_URI": normalize_database_url(libpq_url(url))})
    with app.app_context():
        catalog.ensure_reference_catalog()
        db.session.commit()
        caisses = []
        for i in range(CAISSES):
            code = f"{101 + i:03d}"
            caisse = caisse_service.create_caisse(f"CPAM BENCH {code}", code, actor=None)
            caisses.append((caisse.id, code))
        offers = {o.code: (o.id, o.concerns_person) for o in db.session.query(ServiceOffer)}
        motives = {}
        for m in db.session.query(Motive).order_by(Motive.position):
            motives.setdefault(m.service_offer_id, []).append((m.id, m.label))
        assert db.session.query(CaisseMotive).count() == CAISSES * sum(len(v) for v in motives.values())
        password_hash = hash_password(BENCH_PASSWORD)
        db.session.remove()
        db.engine.dispose()
    return {"caisses": caisses, "offers": offers, "motives": motives, "hash": password_hash}


def _weighted(pairs):
    values = [v for v, _ in pairs]
    cumulative, total = [], 0
    for _, w in pairs:
        total += w
        cumulative.append(total)
    return values, cumulative


def _secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    """Indexes not backing a constraint: dropped before COPY, rebuilt after (much faster)."""
    cur.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           WHERE t.relname = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)""",
        (table,),
    )
    return cur.fetchall()


def load(url: str, n: int, seed: int = 2026, status_history: bool = True) -> dict:
    from backoffice.folding import fold, person_search  # the models' flush listeners fold the same way

    started = time.monotonic()
    rng = random.Random(seed)
    _log(f"recreating {_server_and_name(url)[1]} and running flask db upgrade")
    recreate_database(url)
    migrate(url)
    setup = _app_setup(url)
    caisses, offers, motives, pw = setup["caisses"], setup["offers"], setup["motives"], setup["hash"]
    _log(f"{len(caisses)} caisses and the catalogue created through the services")

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    today = datetime.now(timezone.utc).astimezone(PARIS).date()
    start = now - timedelta(days=365 * YEARS)
    conv_start = today - timedelta(days=365 * YEARS + 30)
    conv_end = today + timedelta(days=400)
    stats = {"requests": n}

    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '256MB'")
        caisse_ids = [cid for cid, _ in caisses]
        caisse_code = dict(caisses)

        # Agents: AGENTS_PER_CAISSE per caisse (the first, agent.<code>, is the one measured), same
        # known password, with realistic names (the queue's "Pris en charge par" lists them).
        agents_of: dict[int, list[int]] = {}
        copy = _Copy(
            cur,
            "agent",
            [
                "id",
                "alt_id",
                "username",
                "first_name",
                "last_name",
                "email",
                "role",
                "caisse_id",
                "password_hash",
                "password_changed_at",
                "active",
                "created_at",
            ],
        )
        agent_id = 0
        for cid, code in caisses:
            for k in range(1, AGENTS_PER_CAISSE + 1):
                agent_id += 1
                agents_of.setdefault(cid, []).append(agent_id)
                username = f"agent.{code}" if k == 1 else f"agent.{code}.{k}"
                copy.add(
                    agent_id,
                    secrets.token_hex(16),
                    username,
                    rng.choice(FIRST_NAMES),
                    rng.choice(LAST_NAMES),
                    f"{username}@bench.invalid",
                    "agent",
                    cid,
                    pw,
                    now,
                    True,
                    now,
                )
        copy.close()

        # Structures, conventions (all five offers), two technicians each.
        s_copy = _Copy(
            cur,
            "structure",
            [
                "id",
                "name",
                "search_name",
                "type",
                "siret",
                "address",
                "postal_code",
                "city",
                "member_count",
                "registered_by_caisse_id",
                "created_at",
            ],
        )
        c_copy_rows = []
        conventions_of: dict[int, list[tuple[int, int]]] = {}
        conv_id = 0
        types = ["Association", "CCAS", "PASS hospitalière", "France Services", "Établissement de santé"]
        for sid in range(1, STRUCTURES + 1):
            postal, city = CITIES[sid % len(CITIES)]
            home = caisse_ids[(sid - 1) % CAISSES]
            name = f"{types[sid % len(types)]} {city} {sid:05d}"
            s_copy.add(
                sid,
                name,
                fold(name),
                types[sid % len(types)],
                _siret(sid),
                f"{sid % 200 + 1} rue de la République",
                postal,
                city,
                rng.randint(1, 60),
                home,
                now,
            )
            partners = [home]
            if sid % SECOND_CONVENTION_EVERY == 0:
                partners.append(caisse_ids[(sid - 1 + 37) % CAISSES])
            for cid in partners:
                conv_id += 1
                c_copy_rows.append((conv_id, sid, cid, conv_start, conv_end, None, None, None, now))
                conventions_of.setdefault(sid, []).append((conv_id, cid))
        s_copy.close()
        c_copy = _Copy(
            cur,
            "convention",
            [
                "id",
                "structure_id",
                "caisse_id",
                "start_date",
                "end_date",
                "manager_cap",
                "technician_cap",
                "notes",
                "created_at",
            ],
        )
        for row in c_copy_rows:
            c_copy.add(*row)
        c_copy.close()
        o_copy = _Copy(cur, "convention_offer", ["convention_id", "service_offer_id"])
        for cid_row in c_copy_rows:
            for offer_id, _ in offers.values():
                o_copy.add(cid_row[0], offer_id)
        o_copy.close()

        a_copy = _Copy(
            cur,
            "partner_account",
            [
                "id",
                "alt_id",
                "login",
                "role",
                "structure_id",
                "civility",
                "usage_name",
                "first_name",
                "function",
                "phone",
                "email",
                "password_hash",
                "password_changed_at",
                "active",
                "cgu_accepted_at",
                "last_caisse_id",
                "created_at",
            ],
        )
        technicians: dict[int, list[tuple[int, str]]] = {}
        account_id = 0
        for sid in range(1, STRUCTURES + 1):
            for suffix in ("a", "b"):
                account_id += 1
                last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
                a_copy.add(
                    account_id,
                    secrets.token_hex(16),
                    f"tech{sid}.{suffix}",
                    "technician",
                    sid,
                    rng.choice(["Madame", "Monsieur"]),
                    last,
                    first,
                    "Bénévole",
                    "05.56.00.00.00",
                    f"tech{sid}.{suffix}@bench.invalid",
                    pw,
                    now,
                    True,
                    now,
                    conventions_of[sid][0][1],
                    now,
                )
                technicians.setdefault(sid, []).append((account_id, f"{last} {first}"))
        a_copy.close()
        stats.update(structures=STRUCTURES, conventions=conv_id, technicians=account_id, agents=agent_id)
        _log(f"{STRUCTURES} structures, {conv_id} conventions, {account_id} technicians, {agent_id} agents")

        # Requests: deposit times increase with the id, so numbers follow the deposit order (R-REQ-4).
        dropped = _secondary_indexes(cur, "request") + _secondary_indexes(cur, "status_change")
        for name, _ in dropped:
            cur.execute(f'DROP INDEX "{name}"')
        offer_codes, offer_cum = _weighted(list(OFFER_WEIGHTS.items()))
        old_status, old_cum = _weighted(OLD_STATUSES)
        new_status, new_cum = _weighted(RECENT_STATUSES)
        year_starts = {}
        for year in range(start.year - 1, now.year + 2):
            year_starts[year] = datetime(year, 1, 1, tzinfo=PARIS).astimezone(timezone.utc).replace(tzinfo=None)
        counters: dict[tuple[int, int], int] = {}
        r_copy = _Copy(
            cur,
            "request",
            [
                "id",
                "number",
                "caisse_id",
                "structure_id",
                "convention_id",
                "service_offer_id",
                "motive_id",
                "requester_account_id",
                "requester_name",
                "person_civility",
                "person_last_name",
                "person_first_name",
                "person_birth_date",
                "person_birth_place",
                "person_phone",
                "person_search",
                "comment",
                "details",
                "status",
                "status_changed_at",
                "deposited_at",
                "taken_by_agent_id",
                "taken_at",
                "answer",
                "resolved_by_agent_id",
                "resolved_at",
                "closed_at",
                "cancel_reason",
                "cancelled_at",
                "caisse_answers_in_exchange",
            ],
        )
        # One COPY at a time per connection: the status history waits in a temporary file.
        h_file = tempfile.TemporaryFile("w+", encoding="utf-8") if status_history else None
        h_rows = 0
        span = (now - start).total_seconds()
        # The caisse's open work does not grow with its history: the recent requests (still new,
        # taken, in an exchange…) are as many at every size — those of the last 20 days at 1 M, so
        # the whole (shorter-lived) history at 10 k. The worklists then show full pages at both
        # sizes, and their cost ratio compares like with like.
        recent = now - timedelta(days=min(span / 86400, RECENT_DAYS_AT_1M * 1_000_000 / n))
        modes = json.dumps({"appointment_modes": ["Téléphonique / Visio"]})
        hour = timedelta(hours=1)
        by_status: dict[str, int] = {}
        for rid in range(1, n + 1):
            deposited = start + timedelta(seconds=span * (rid - 1 + rng.random()) / n)
            sid = rng.randint(1, STRUCTURES)
            conv, cid = rng.choice(conventions_of[sid])
            year = deposited.year + 1 if deposited >= year_starts[deposited.year + 1] else deposited.year
            seq = counters[(cid, year)] = counters.get((cid, year), 0) + 1
            number = f"{year % 100:02d}{caisse_code[cid]}{seq:05d}"
            code = offer_codes[_pick(rng, offer_cum)]
            offer_id, concerns_person = offers[code]
            motive_id, motive_label = rng.choice(motives[offer_id])
            details = "{}"
            if code == "document":
                details = json.dumps({"documents": [motive_label]}, ensure_ascii=False)
            elif code == "contact":
                details = modes
            statuses, cum = (new_status, new_cum) if deposited >= recent else (old_status, old_cum)
            status = statuses[_pick(rng, cum)]
            by_status[status] = by_status.get(status, 0) + 1
            requester_id, requester_name = rng.choice(technicians[sid])
            agent = rng.choice(agents_of[cid])
            taken_at = resolved_at = closed_at = cancelled_at = None
            taken_by = resolved_by = answer = cancel_reason = None
            changed = deposited
            history = [("new", deposited, None, requester_id)]
            if status == "cancelled":
                cancelled_at = changed = min(deposited + hour * rng.uniform(0.2, 20), now)
                cancel_reason = rng.choice(CANCEL_REASONS)
                history.append(("cancelled", changed, None, requester_id))
            elif status != "new":
                taken_at = changed = min(deposited + hour * rng.uniform(0.5, 40), now)
                taken_by = agent
                history.append(("taken", taken_at, agent, None))
                if status != "taken":
                    resolved_at = changed = min(taken_at + hour * rng.uniform(1, 96), now)
                    resolved_by, answer = agent, "Votre demande a été traitée."
                    history.append(("resolved", resolved_at, agent, None))
                    if status in ("message_sent", "message_received"):
                        changed = min(resolved_at + hour * rng.uniform(1, 48), now)
                        history.append(("message_sent", changed, None, requester_id))
                    if status == "message_received":
                        changed = min(changed + hour * rng.uniform(1, 48), now)
                        history.append(("message_received", changed, agent, None))
                    if status == "closed":
                        closed_at = changed = min(resolved_at + timedelta(days=15, minutes=5), now)
                        history.append(("closed", closed_at, None, None))
            person = (None,) * 6
            if concerns_person:
                person = (
                    rng.choice(["Madame", "Monsieur"]),
                    rng.choice(LAST_NAMES),
                    rng.choice(FIRST_NAMES),
                    date(rng.randint(1940, 2015), rng.randint(1, 12), rng.randint(1, 28)),
                    f"{rng.randint(1, 95):02d}",
                    "06.12.34.56.78",
                )
            r_copy.add(
                rid,
                number,
                cid,
                sid,
                conv,
                offer_id,
                motive_id,
                requester_id,
                requester_name,
                *person,
                person_search(person[1], person[2]),
                "Demande de test de charge : merci de rappeler la personne.",
                details,
                status,
                changed,
                deposited,
                taken_by,
                taken_at,
                answer,
                resolved_by,
                resolved_at,
                closed_at,
                cancel_reason,
                cancelled_at,
                1 if status == "message_received" else 0,
            )
            if h_file is not None:
                h_file.write("".join(_line(rid, *item) for item in history))
                h_rows += len(history)
            if rid % 200_000 == 0:
                _log(f"{rid} requests written")
        r_copy.close()
        if h_file is not None:
            h_file.seek(0)
            with cur.copy(
                'COPY "status_change" (request_id, status, changed_at, agent_id, account_id) FROM STDIN'
            ) as h_copy:
                while chunk := h_file.read(1 << 20):
                    h_copy.write(chunk)
            h_file.close()
            stats["status_changes"] = h_rows
        k_copy = _Copy(cur, "request_counter", ["caisse_id", "year", "last_value"])
        for (cid, year), value in sorted(counters.items()):
            k_copy.add(cid, year, value)
        k_copy.close()
        _log(f"{n} requests copied; rebuilding {len(dropped)} indexes")
        for _, definition in dropped:
            cur.execute(definition)
        for table in ("agent", "structure", "convention", "partner_account", "request", "status_change"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT coalesce(max(id), 1) FROM "{table}"))'
            )
        conn.commit()
        stats["by_status"] = dict(sorted(by_status.items(), key=lambda kv: -kv[1]))
    # VACUUM sets the visibility map (index-only scans); ANALYZE gives the planner the spreads.
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    stats["seconds"] = round(time.monotonic() - started, 1)
    _log(f"done in {stats['seconds']} s: {stats}")
    return stats


def _pick(rng: random.Random, cumulative: list[int]) -> int:
    x = rng.random() * cumulative[-1]
    for i, bound in enumerate(cumulative):
        if x < bound:
            return i
    return len(cumulative) - 1


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/ep_bench")
    parser.add_argument("-n", "--requests", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-status-history", action="store_true", help="skip the StatusChange rows")
    args = parser.parse_args(argv)
    load(args.database_url, args.requests, args.seed, not args.no_status_history)


if __name__ == "__main__":
    main()
