"""The app under benchmark: `create_app()` as production builds it, plus — for the benchmark only —

* `/hello`: a bare Flask route, the ceiling of what gunicorn and Flask serve on this machine;
* `/stock-admin/`: a second Flask-Admin with a plain `ModelView(Request, db)`, no customisation and
  no login, the list a Flask team would get out of the box (the baseline);
* two response headers: `X-SQL-Queries` (statements sent to the database while serving the request,
  counted by a `before_cursor_execute` listener) and `X-Server-Ms` (time spent in Flask).

Served by bench/run.py as `gunicorn --pythonpath bench bench_app:app`; never by production.
"""

import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import g  # noqa: E402
from flask_admin import Admin  # noqa: E402
from flask_admin.contrib.sqla import ModelView  # noqa: E402
from sqlalchemy import event  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.models import Request  # noqa: E402
from config import Config  # noqa: E402


class BenchConfig(Config):
    # Every benchmark login comes from 127.0.0.1: the per-IP login limit would refuse them.
    RATE_LIMITS_ENABLED = False


def build_app():
    app = create_app(BenchConfig)

    @app.route("/hello")
    def hello():
        return "Hello, World!"

    stock = Admin(app, name="Stock Flask-Admin", url="/stock-admin", endpoint="stock_admin")
    stock.add_view(ModelView(Request, db, endpoint="stock_requests"))

    if os.environ.get("BENCH_HEADERS", "1") == "1":
        _instrument(app)
    return app


def _instrument(app) -> None:
    counter = {"sql": 0}

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        counter["sql"] += 1

    @app.before_request
    def _start():
        counter["sql"] = 0
        g.bench_started = time.perf_counter()

    def _headers(response):
        response.headers["X-SQL-Queries"] = str(counter["sql"])
        started = g.get("bench_started")
        if started is not None:
            response.headers["X-Server-Ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return response

    # after_request functions run last-registered first: put this one at the end, so the queries
    # of the other after_request hooks (the security headers read current_user) are counted too.
    app.after_request_funcs.setdefault(None, []).insert(0, _headers)


app = build_app()

# As wsgi.py does: the objects built at start-up are not rescanned by the garbage collector.
gc.collect()
gc.freeze()
