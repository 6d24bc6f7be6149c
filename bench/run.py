"""One command for the whole benchmark (issue 6): load, serve, drive, measure, write bench/RESULTS.md.

    .venv/bin/python bench/run.py                 # loads 10 000 then 1 000 000 requests (a few minutes)
    .venv/bin/python bench/run.py --reuse         # reuses ep_bench_10k / ep_bench_1m when already loaded

For each size: bench/load.py fills a fresh database (or `flask db upgrade` brings a reused one up to
date), gunicorn serves bench/bench_app.py with 2 sync workers on a free port of 127.0.0.1 (one
server per size), an agent and a technician log in through the real forms (CSRF token included),
then wrk (another process) drives each page for a fixed duration, on each size back to back, and
reports req/s, p50 and p95 (a Lua `done` hook; non-200 answers are counted and fail the row). The SQL statements of each page come from the X-SQL-Queries
header of the bench app, at the default page size and at the largest one. Filing a request with
8 × 5 MB files is timed sequentially with a Python client (wrk does not do multipart): the server
time is the X-Server-Ms header.
"""

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from load import AGENTS_PER_CAISSE, BENCH_PASSWORD, database_exists, libpq_url, load, migrate  # noqa: E402

USER_AGENT = "ep-bench/1.0"
MB5 = 5 * 1024 * 1024
TARGETS = {
    "queue_p95_ms": 50,
    "queue_vs_stock": 10,
    "history_p95_ms": 30,
    "history_vs_hello": 0.08,
    "max_sql": 6,
    "growth": 1.5,
    "filing_s": 1.0,
}
# The first-name search of issue 13 is held to the queue's targets; the other search is not (issue 6's
# targets name the default view and each filter).
FIRST_NAME_SEARCH = "first-name search 'rosalie'"
WRK_LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "errors": %d, "bad": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, b))
end
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- a tiny HTTP client with a cookie jar (stdlib only) ------------------------------------------


class Client:
    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        conn.close()
        response.body = data
        response.elapsed = elapsed
        return response

    def get(self, path: str):
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict):
        body = urlencode(fields, doseq=True).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def csrf(self, path: str) -> str:
        page = self.get(path).body.decode()
        match = (
            re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
            or re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', page)
            or re.search(r'name="csrf_token" value="([^"]+)"', page)
        )
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


def login_agent(port: int, username: str) -> Client:
    client = Client(port)
    token = client.csrf("/admin/connexion")
    response = client.post_form(
        "/admin/connexion", {"csrf_token": token, "username": username, "password": BENCH_PASSWORD}
    )
    assert response.status == 302, (response.status, response.body[:500])
    return client


def login_technician(port: int, login: str, caisse_id: int) -> Client:
    client = Client(port)
    token = client.csrf("/connexion")
    response = client.post_form("/connexion", {"csrf_token": token, "login": login, "password": BENCH_PASSWORD})
    assert response.status == 302, (response.status, response.body[:500])
    token = client.csrf("/organisme")
    response = client.post_form("/organisme", {"csrf_token": token, "caisse_id": str(caisse_id)})
    assert response.status == 302 and "avertissement" not in response.getheader("Location", ""), response.status
    return client


# --- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(database_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": libpq_url(database_url), "BENCH_HEADERS": "1"}
    env.pop("FLASK_ENV_NAME", None)  # the default config: no HTTPS-only cookies on plain HTTP
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--pythonpath",
            f"{BENCH},{ROOT}",
            "--log-level",
            "warning",
            "--timeout",
            "120",
            "bench_app:app",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Client(port).get("/hello").status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


# --- what to measure ------------------------------------------------------------------------------


def facts(database_url: str) -> dict:
    """Ids the pages need: a typical caisse, its agent, a structure of it, its technician, a request."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        one = lambda sql, *p: conn.execute(sql, p).fetchone()  # noqa: E731
        caisse_id, code = one("SELECT id, code FROM caisse WHERE code = '101'")
        # The caisse's first structure that has a request with it (at 10 k a structure has about one
        # request, not always with this caisse).
        structure_id = one(
            "SELECT min(c.structure_id) FROM convention c WHERE c.caisse_id = %s AND EXISTS (SELECT 1 FROM request r"
            " WHERE r.caisse_id = c.caisse_id AND r.structure_id = c.structure_id AND r.status <> 'cancelled')",
            caisse_id,
        )[0]
        account_id, login = one(
            "SELECT id, login FROM partner_account WHERE structure_id = %s ORDER BY id LIMIT 1", structure_id
        )
        offer_id = one("SELECT id FROM service_offer WHERE code = 'file_review'")[0]
        motive_id = one("SELECT id FROM motive WHERE service_offer_id = %s ORDER BY position LIMIT 1", offer_id)[0]
        req = one(
            "SELECT id, number FROM request WHERE caisse_id = %s AND structure_id = %s AND status <> 'cancelled'"
            " ORDER BY deposited_at DESC LIMIT 1",
            caisse_id,
            structure_id,
        )
        version = one("SHOW server_version")[0]
        total = one("SELECT count(*) FROM request")[0]
        per_caisse = one("SELECT count(*) FROM request WHERE caisse_id = %s", caisse_id)[0]
        per_structure = one(
            "SELECT count(*) FROM request WHERE caisse_id = %s AND structure_id = %s", caisse_id, structure_id
        )[0]
        agent_id = one("SELECT id FROM agent WHERE username = %s", f"agent.{code}")[0]
        todo = one(
            "SELECT count(*) FROM request WHERE caisse_id = %s AND status IN ('new', 'message_sent')", caisse_id
        )[0]
        mine = one(
            "SELECT count(*) FROM request WHERE taken_by_agent_id = %s AND status IN ('taken', 'message_sent')",
            agent_id,
        )[0]
        first_name = one(
            "SELECT count(*) FROM request WHERE caisse_id = %s AND person_search LIKE '%%rosalie%%'", caisse_id
        )[0]
    return {
        "url": database_url,
        "caisse_id": caisse_id,
        "agent": f"agent.{code}",
        "structure_id": structure_id,
        "account_id": account_id,
        "login": login,
        "offer_id": offer_id,
        "motive_id": motive_id,
        "request_id": req[0],
        "number": req[1],
        "pg_version": version,
        "total": total,
        "per_caisse": per_caisse,
        "per_structure": per_structure,
        "todo": todo,
        "mine": mine,
        "first_name": first_name,
    }


def queue_filter_args(database_url: str) -> dict[tuple[str, str], str]:
    """Flask-Admin's URL names of the queue filters, read from the view (named_filter_urls)."""
    from backoffice import create_app
    from config import normalize_database_url

    app = create_app({"SQLALCHEMY_DATABASE_URI": normalize_database_url(libpq_url(database_url))})
    view = next(v for v in app.extensions["ep_admin"]._views if v.endpoint == "requests")
    return {(str(flt.name), str(flt.operation())): key for key, (_i, flt) in view._filter_args.items()}


def pages(f: dict, flt: dict) -> list[tuple[str, str, str, str | None]]:
    """(group, label, path, path at the largest page size or None)."""
    today = date.today()
    q = "/admin/requests/"

    def qf(name, op, value):
        return f"{q}?{urlencode({'flt0_' + flt[(name, op)]: value})}"

    def big(path, arg):
        return path + ("&" if "?" in path else "?") + arg

    queue = [
        ("default view", q),
        ("status = Nouveau", qf("Statut", "est", "new")),
        ("status = Clôturé", qf("Statut", "est", "closed")),
        ("offer", qf("Offre de service", "est", f["offer_id"])),
        ("motive", qf("Motif", "est", f["motive_id"])),
        ("structure", qf("Structure", "est", f["structure_id"])),
        (
            "deposit between (90 days)",
            qf("Date de dépôt", "entre", f"{today - timedelta(days=90):%Y-%m-%d} to {today:%Y-%m-%d}"),
        ),
        ("deposit from (30 days)", qf("Date de dépôt", "à partir du", f"{today - timedelta(days=30):%Y-%m-%d}")),
        ("deposit until (1 year ago)", qf("Date de dépôt", "jusqu'au", f"{today - timedelta(days=365):%Y-%m-%d}")),
        ("overdue (48 h)", qf("En retard (plus de 48 h)", "est", "1")),
        ("search 'MARTIN'", f"{q}?search=MARTIN"),
        # Issue 13: the agent's worklists and a first-name search (folded: "rosalie" finds "Rosalie"),
        # held to the queue's targets.
        ("« À traiter »", "/admin/a-traiter/"),
        ("« Mes demandes »", "/admin/mes-demandes/"),
        (FIRST_NAME_SEARCH, f"{q}?search=rosalie"),
    ]
    h = "/demandes"
    history = [
        ("default view", h),
        ("number", f"{h}?number={f['number']}"),
        ("requester", f"{h}?requester={f['account_id']}"),
        ("person 'MARTIN'", f"{h}?person=MARTIN"),
        ("offer", f"{h}?offer={f['offer_id']}"),
        ("status = Clôturé", f"{h}?status=closed"),
        ("motive", f"{h}?motive={f['motive_id']}"),
        ("date from (1 year)", f"{h}?date_from={(today - timedelta(days=365)).isoformat()}"),
        ("date to (1 year ago)", f"{h}?date_to={(today - timedelta(days=365)).isoformat()}"),
    ]
    result = [
        ("ceiling", "hello (bare Flask)", "/hello", None),
        (
            "baseline",
            "stock ModelView(Request) list",
            "/stock-admin/stock_requests/",
            "/stock-admin/stock_requests/?page_size=100",
        ),
    ]
    result += [("queue", label, path, big(path, "page_size=100")) for label, path in queue]
    result += [("history", label, path, big(path, "per_page=50")) for label, path in history]
    result += [
        ("detail", "agent request screen", f"/admin/requests/traiter/?id={f['request_id']}", None),
        ("detail", "partner request detail", f"/demandes/{f['number']}", None),
    ]
    return result


def run_wrk(port: int, path: str, cookie: str | None, duration: int, threads: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_LUA)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "20s",
        "-s",
        script.name,
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(
        command + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    os.unlink(script.name)
    data = json.loads(re.search(r"WRKJSON (\{.*\})", output).group(1))
    return {
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "p50": data["p50_us"] / 1000,
        "p95": data["p95_us"] / 1000,
        "p99": data["p99_us"] / 1000,
        "requests": data["requests"],
        "errors": data["errors"] + data["bad"],
    }


def probe(client: Client | None, port: int, path: str) -> tuple[int, int | None]:
    response = (client or Client(port)).get(path)
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}: the benchmark would measure an error page")
    sql = response.getheader("X-SQL-Queries")
    return response.status, int(sql) if sql is not None else None


def _pdf(i: int) -> bytes:
    """A 5 MB file that passes the upload checks, its body random bytes like a compressed PDF's
    streams (a body of one repeated byte is a slow case for bytes searches: not realistic)."""
    from backoffice.services.attachments import check_file
    from backoffice.services.errors import DomainError

    head, tail = b"%PDF-1.4\n%bench " + str(i).encode() + b"\n", b"\n%%EOF\n"
    for seed in range(i * 1000, i * 1000 + 1000):
        data = head + random.Random(seed).randbytes(MB5 - len(head) - len(tail)) + tail
        try:
            check_file(f"piece{i + 1}.pdf", data)
        except DomainError:  # random bytes that happen to spell '<svg' or '/Launch': next seed
            continue
        return data
    raise SystemExit("no acceptable random PDF body")


def file_requests(client: Client, f: dict, count: int) -> dict:
    """Sequential filings of 'Soumettre une demande d'étude de dossier' with 8 × 5 MB PDFs."""
    files = [_pdf(i) for i in range(8)]
    path = "/demandes/nouvelle/file_review"
    server_ms, client_ms, sql = [], [], []
    for n in range(count):
        token = client.csrf(path)
        fields = {
            "csrf_token": token,
            "motive_id": str(f["motive_id"]),
            "person_civility": "Madame",
            "person_last_name": "BENCH",
            "person_first_name": "Alice",
            "person_birth_date": "10/10/1971",
            "person_birth_place": "33",
            "person_phone": "06.12.34.56.78",
            "comment": f"Dépôt {n + 1} du banc d'essai avec huit pièces jointes de 5 Mo.",
        }
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for i, data in enumerate(files):
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="piece{i + 1}.pdf"'
                f"\r\nContent-Type: application/pdf\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        response = client.request(
            "POST", path, b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        location = response.getheader("Location", "")
        if response.status != 302 or not re.search(r"/demandes/\d{10}$", location):
            raise SystemExit(f"filing {n + 1} failed: {response.status} {response.body[:800]!r}")
        server_ms.append(float(response.getheader("X-Server-Ms")))
        client_ms.append(response.elapsed * 1000)
        sql.append(int(response.getheader("X-SQL-Queries")))
    server_ms.sort()
    _delete_filings(f)
    return {
        "count": count,
        "server_p50": statistics.median(server_ms),
        "server_max": server_ms[-1],
        "server_p95": server_ms[max(0, int(round(0.95 * count)) - 1)],
        "client_p50": statistics.median(client_ms),
        "sql": max(sql),
    }


class Target:
    """One loaded database served by its own gunicorn, with its logged-in clients and its pages."""

    def __init__(self, label: str, database_url: str, args):
        self.label, self.url = label, database_url
        self.facts = facts(database_url)
        self.pages = [
            page
            for page in pages(self.facts, queue_filter_args(database_url))
            if not args.only or page[0] in args.only | {"ceiling", "baseline"}
        ]
        self.port = free_port()
        log(f"serving {database_url.rsplit('/', 1)[-1]} ({self.facts['total']} requests) on 127.0.0.1:{self.port}")
        self.server = start_gunicorn(database_url, self.port)
        self.agent = login_agent(self.port, self.facts["agent"])
        self.tech = login_technician(self.port, self.facts["login"], self.facts["caisse_id"])
        self.rows: list[dict] = []
        self.load: list[float] = []

    def client_for(self, path: str) -> Client | None:
        return self.agent if path.startswith("/admin") else self.tech if path.startswith("/demandes") else None

    def measure_page(self, index: int, args) -> dict:
        group, label, path, big_path = self.pages[index]
        client = self.client_for(path)
        # Warm-up: the first request of a worker compiles templates and fills its per-worker caches
        # (the queue's filter options); the statements counted are a warm worker's (the fewest of
        # several probes, which the two workers share).
        for _ in range(4):
            probe(client, self.port, path)
        sql = min(probe(client, self.port, path)[1] for _ in range(3))
        sql_big = min(probe(client, self.port, big_path)[1] for _ in range(3)) if big_path else None
        self.load.append(os.getloadavg()[0])
        result = run_wrk(
            self.port, path, client.cookie_header() if client else None, args.duration, args.threads, args.connections
        )
        row = {"group": group, "label": label, "path": path, "sql": sql, "sql_big": sql_big, **result}
        self.rows.append(row)
        log(
            f"{self.label:>4} {group:8} {label:32} {row['rps']:8.1f} req/s  p50 {row['p50']:7.1f} ms  "
            f"p95 {row['p95']:7.1f} ms  sql {sql}/{sql_big}  errors {row['errors']}"
        )
        return row

    def stop(self) -> None:
        stop_gunicorn(self.server)


def _delete_filings(f: dict) -> None:
    """The benchmark's own filings (40 MB each) leave the database as loaded, for the next --reuse."""
    with psycopg.connect(libpq_url(f["url"])) as conn:
        conn.execute(
            "DELETE FROM request WHERE structure_id = %s AND comment LIKE %s",
            (f["structure_id"], "Dépôt % du banc d'essai avec huit pièces jointes de 5 Mo."),
        )
        conn.execute("DELETE FROM staged_upload WHERE account_id = %s", (f["account_id"],))


def measure(targets: list[Target], args) -> dict[str, dict]:
    """Each page on every size back to back (10 k, then 1 M, then the next page): the machine's
    load, shared with other work, weighs on both sides of each cost ratio alike."""
    for index in range(len(targets[0].pages)):
        for target in targets:
            target.measure_page(index, args)
    results = {}
    for target in targets:
        if args.only and "filing" not in args.only:
            results[target.label] = {
                "facts": target.facts,
                "rows": target.rows,
                "filing": None,
                "load": (min(target.load), max(target.load)),
            }
            continue
        filing = file_requests(target.tech, target.facts, args.filings)
        log(
            f"{target.label:>4} filing 8 × 5 MB: server p50 {filing['server_p50']:.0f} ms, "
            f"p95 {filing['server_p95']:.0f} ms, max {filing['server_max']:.0f} ms"
        )
        results[target.label] = {
            "facts": target.facts,
            "rows": target.rows,
            "filing": filing,
            "load": (min(target.load), max(target.load)),
        }
    return results


# --- the report -----------------------------------------------------------------------------------


def machine() -> dict:
    mem = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].split(" [")[0]
    return {
        "nproc": os.cpu_count(),
        "memory": f"{int(mem) / 1024 / 1024:.1f} GiB",
        "cpu": _cpu(),
        "python": platform.python_version(),
        "wrk": wrk,
    }


def _cpu() -> str:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def report(results: dict[str, dict], args) -> str:
    sizes = list(results)
    small, large = sizes[0], sizes[-1]
    m = machine()
    pg = results[large]["facts"]["pg_version"]
    lines = [
        "# Benchmark results",
        "",
        f"Run on {datetime.now():%Y-%m-%d %H:%M} by `{args.command_line}`.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']} of memory, PostgreSQL {pg}, "
        f"Python {m['python']}, gunicorn 2 sync workers, {m['wrk']} with {args.threads} threads and "
        f"{args.connections} connections for {args.duration} s per page (wrk, PostgreSQL and the app share the cores). "
        f"With {args.connections} connections on 2 sync workers, each worker always has the next request waiting (the "
        "throughput is the saturated one) and a latency is the page's time plus at most the wait for one other request.",
        "",
    ]
    for size in sizes:
        f = results[size]["facts"]
        low, high = results[size]["load"]
        lines.append(
            f"* **{size}**: {_n(f['total'])} requests; the measured caisse holds {_n(f['per_caisse'])}, the "
            f"measured structure {_n(f['per_structure'])} with it; its « À traiter » {_n(f['todo'])}, the measured "
            f"agent's « Mes demandes » {_n(f['mine'])} (of {AGENTS_PER_CAISSE} agents), 'rosalie' "
            f"{_n(f['first_name'])}. Load average before each page: "
            f"{low:.1f} to {high:.1f}."
        )
    lines += [
        "",
        "Each page is measured on both sizes back to back (two servers, driven one at a time), so the "
        "machine's other work weighs on both sides of a cost ratio alike.",
    ]
    lines += [
        "",
        "Cost ratio = req/s at 10 k ÷ req/s at 1 M (1.0 = no growth). SQL = statements per page at the "
        "default page size / at the largest one (100 rows for the queue and the stock view, 50 for the history).",
        "",
    ]
    hello = {s: _row(results[s], "hello (bare Flask)")["rps"] for s in sizes}
    stock = {s: _row(results[s], "stock ModelView(Request) list")["rps"] for s in sizes}
    head = (
        "| page | "
        + " | ".join(f"{s} req/s | {s} p50 ms | {s} p95 ms" for s in sizes)
        + f" | SQL | × hello ({large}) | × stock ({large}) | cost {large}/{small} | targets |"
    )
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    verdicts = []
    for row in results[large]["rows"]:
        label = row["label"]
        cells = [f"{row['group']}: {label}"]
        for s in sizes:
            r = _row(results[s], label, row["group"])
            cells += [f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p95']:.1f}"]
        r_small = _row(results[small], label, row["group"])
        growth = r_small["rps"] / row["rps"] if row["rps"] else float("inf")
        sql = f"{row['sql']}" + (f" / {row['sql_big']}" if row["sql_big"] is not None else "")
        ok, why = _verdict(row, hello[large], stock[large], growth, results)
        verdicts.append((row["group"], label, ok, why))
        cells += [
            sql,
            f"{row['rps'] / hello[large]:.1%}",
            f"{row['rps'] / stock[large]:.1f}",
            f"{growth:.2f}",
            ("met" if ok else "**missed**: " + why) if ok is not None else "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Filing a request with 8 × 5 MB PDF files (sequential, Python client, server time from the app):",
        "",
        "| size | filings | server p50 ms | server p95 ms | server max ms | client p50 ms | SQL | target p95 ≤ 1 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        fl = results[s]["filing"]
        if fl is None:
            lines.append(f"| {s} | not measured (--only) | | | | | | |")
            verdicts.append(("filing", s, False, "not measured"))
            continue
        ok = fl["server_p95"] <= TARGETS["filing_s"] * 1000
        verdicts.append(("filing", s, ok, ""))
        lines.append(
            f"| {s} | {fl['count']} | {fl['server_p50']:.0f} | {fl['server_p95']:.0f} | {fl['server_max']:.0f} "
            f"| {fl['client_p50']:.0f} | {fl['sql']} | {'met' if ok else '**missed**'} |"
        )
    missed = [v for v in verdicts if v[2] is False]
    lines += [
        "",
        "Targets at 1 M (issues 6 and 13): work queue p95 ≤ 50 ms and ≥ 10× the stock ModelView (default view, "
        "each filter, « À traiter », « Mes demandes », the first-name search); history p95 ≤ 30 ms and ≥ 8 % of hello (every criterion); ≤ 6 SQL statements per page "
        "whatever the page size; each page at 1 M within 1.5× of its cost at 10 k; filing ≤ 1 s server time.",
        "",
        f"**{'Every target met.' if not missed else f'{len(missed)} target line(s) missed.'}**",
        "",
    ]
    return "\n".join(lines)


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _row(result: dict, label: str, group: str | None = None) -> dict:
    return next(r for r in result["rows"] if r["label"] == label and (group is None or r["group"] == group))


def _verdict(row, hello_rps, stock_rps, growth, results):
    group = row["group"]
    if group in ("ceiling", "baseline"):
        return None, ""
    problems = []
    if row["errors"]:
        problems.append(f"{row['errors']} errors")
    sqls = [v for v in (row["sql"], row["sql_big"]) if v is not None]
    if max(sqls) > TARGETS["max_sql"] or len(set(sqls)) > 1:
        problems.append(f"SQL {'/'.join(map(str, sqls))}")
    if growth > TARGETS["growth"]:
        problems.append(f"cost ×{growth:.2f}")
    if group == "queue" and not row["label"].startswith("search"):  # the view, its filters, worklists, first names
        if row["p95"] > TARGETS["queue_p95_ms"]:
            problems.append(f"p95 {row['p95']:.0f} ms")
        if row["rps"] < TARGETS["queue_vs_stock"] * stock_rps:
            problems.append(f"{row['rps'] / stock_rps:.1f}× stock")
    if group == "history":
        if row["p95"] > TARGETS["history_p95_ms"]:
            problems.append(f"p95 {row['p95']:.0f} ms")
        if row["rps"] < TARGETS["history_vs_hello"] * hello_rps:
            problems.append(f"{row['rps'] / hello_rps:.1%} of hello")
    return not problems, ", ".join(problems)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--server",
        default="postgresql://postgres@127.0.0.1:5432",
        help="PostgreSQL server; the databases are ep_bench_10k and ep_bench_1m",
    )
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database (migrated up to date)")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    # Two per worker: each of the 2 sync workers always has the next request waiting, so the
    # throughput is the saturated one, and p50/p95 are the page's time plus at most one request's
    # wait. More connections give the same throughput and only lengthen the wait in gunicorn's
    # backlog (p50 ≈ connections ÷ throughput): with 8, a request mostly waits for three others.
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--filings", type=int, default=20)
    parser.add_argument("--output", default=str(BENCH / "RESULTS.md"))
    parser.add_argument(
        "--only",
        default="",
        help="while working on a page: measure only these groups (comma-separated: queue, history, "
        "detail, filing; hello and the stock view are always measured); writes to --output",
    )
    args = parser.parse_args(argv)
    args.only = {group.strip() for group in args.only.split(",") if group.strip()}
    args.command_line = "bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    # Stopped with SIGTERM, the run still stops its gunicorn servers (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    databases = []
    for n in [int(s) for s in args.sizes.split(",")]:
        label = f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1000} k"
        url = f"{args.server.rstrip('/')}/ep_bench_{label.replace(' ', '').lower()}"
        if args.reuse and database_exists(url) and _loaded(url) == n:
            log(f"reusing {url} ({n} requests); flask db upgrade")
            migrate(url)
        else:
            load(url, n)
        databases.append((label, url))
    targets = []
    try:
        for label, url in databases:
            targets.append(Target(label, url, args))
        results = measure(targets, args)
    finally:
        for target in targets:
            target.stop()
    text = report(results, args)
    Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)


def _loaded(url: str) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        try:
            return conn.execute(
                "SELECT count(*) FROM request WHERE comment LIKE 'Demande de test de charge%%'"
            ).fetchone()[0]
        except psycopg.Error:
            return -1


if __name__ == "__main__":
    main()
