"""A page's own CPU time, in-process: the bench app behind Flask's test client, no gunicorn, no wrk.

    .venv/bin/python bench/profile_page.py /admin/requests/ /stock-admin/stock_requests/
    .venv/bin/python bench/profile_page.py --cprofile 30 /admin/requests/

The machine is shared: wrk's req/s moves with the other work on it, while the CPU time this
process spends on a page (time.process_time: the app's Python, not PostgreSQL's) hardly does. Each
path is requested --warmup times, then --n times; the median and the lowest CPU ms per request
are printed with the wall time and the statements counted (X-SQL-Queries). --cprofile N prints the
N functions with the most cumulative time over the measured requests of the last path.

The agent (`agent.101` by default) logs in through the real form, as in bench/run.py.
"""

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from load import BENCH_PASSWORD, libpq_url  # noqa: E402


def build(database_url: str):
    os.environ["DATABASE_URL"] = libpq_url(database_url)
    os.environ.pop("FLASK_ENV_NAME", None)
    import bench_app

    return bench_app.app


def login(app, username: str):
    client = app.test_client()
    page = client.get("/admin/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    response = client.post(
        "/admin/connexion", data={"csrf_token": token.group(1), "username": username, "password": BENCH_PASSWORD}
    )
    assert response.status_code == 302, response.status_code
    return client


def measure(client, path: str, n: int, warmup: int, profiler=None) -> dict:
    for _ in range(warmup):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    cpu, wall = [], []
    for _ in range(n):
        if profiler is not None:
            profiler.enable()
        c0, w0 = time.process_time(), time.perf_counter()
        response = client.get(path)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        if profiler is not None:
            profiler.disable()
        assert response.status_code == 200, (path, response.status_code)
    return {
        "cpu_median": statistics.median(cpu),
        "cpu_min": min(cpu),
        "wall_median": statistics.median(wall),
        "sql": response.headers.get("X-SQL-Queries"),
        "bytes": len(response.get_data()),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/ep_bench_1m")
    parser.add_argument("--agent", default="agent.101")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key for --cprofile (cumulative, tottime)")
    args = parser.parse_args(argv)
    app = build(args.database_url)
    import gc

    gc.collect()
    gc.freeze()
    client = login(app, args.agent)
    profiler = None
    for i, path in enumerate(args.paths):
        if args.cprofile and i == len(args.paths) - 1:
            profiler = cProfile.Profile()
        r = measure(client, path, args.n, args.warmup, profiler)
        print(
            f"{path[:90]:90} cpu {r['cpu_median']:6.2f} ms (min {r['cpu_min']:6.2f})  "
            f"wall {r['wall_median']:6.2f} ms  sql {r['sql']}  {r['bytes']} bytes",
            flush=True,
        )
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats(args.sort).print_stats(args.cprofile)


if __name__ == "__main__":
    main()
