"""views/url_cache.py: every URL its get_url gives equals what url_for gives."""

import pytest
from flask import url_for

from backoffice.views.url_cache import CachedUrlsMixin, query_string

LIST_ARGS = [
    {},
    {"page": None, "sort": None, "desc": None, "search": None, "page_size": 20},
    {"page": 3, "sort": 2, "desc": 1, "page_size": 50},
    {"search": "Rosalie LAFLEUR", "page_size": 20},
    {"search": "solidarité & co/ é?=#%+", "flt0_statut_est": "new,message_sent"},
    {"flt0_12": "2026-01-01 to 2026-12-01", "flt1_3": "7", "page_size": 100},
    {"search": "!$'()*,/:;?@[]", "page": 0},
    {"multi": ["a", "b c", None], "tuple": ("x",), "flag": True, "zero": 0},
]
STATIC_ARGS = [
    {"filename": "admin/js/bs4_filters.js", "v": "1.0.0"},
    {"filename": "bootstrap/bootstrap4/swatch/default/bootstrap.min.css", "v": "4.6.2"},
    {"filename": "vendor/jquery.min.js"},
    {"filename": "fichier é+.js", "v": "1"},
]


def _view(app, endpoint):
    return next(v for v in app.extensions["ep_admin"]._views if v.endpoint == endpoint)


@pytest.mark.parametrize("args", LIST_ARGS)
def test_list_urls_equal_url_for(app, args):
    view = _view(app, "requests")
    assert isinstance(view, CachedUrlsMixin)
    with app.test_request_context("/admin/requests/"):
        app.preprocess_request()
        from flask import request

        request.url_rule = app.url_map.bind("localhost").match("/admin/requests/", return_rule=True)[0]
        assert request.blueprint == "requests"
        for _ in range(2):  # built, then from the kept path
            assert view.get_url(".index_view", **args) == url_for(".index_view", **args)


@pytest.mark.parametrize("args", STATIC_ARGS)
def test_static_urls_equal_url_for(app, args):
    view = _view(app, "requests")
    with app.test_request_context("/admin/requests/"):
        for _ in range(2):
            assert view.get_url("admin.static", **args) == url_for("admin.static", **args)


def test_script_root_is_part_of_the_key(app):
    view = _view(app, "requests")
    args = {"filename": "vendor/jquery.min.js", "v": "3.5.1"}
    with app.test_request_context("/admin/requests/"):
        plain = view.get_url("admin.static", **args)
    with app.test_request_context("/admin/requests/", base_url="http://localhost/sous-chemin/"):
        mounted = view.get_url("admin.static", **args)
        assert mounted == url_for("admin.static", **args)
    assert plain == "/admin/static/vendor/jquery.min.js?v=3.5.1"
    assert mounted == "/sous-chemin/admin/static/vendor/jquery.min.js?v=3.5.1"


def test_special_arguments_go_to_url_for(app):
    view = _view(app, "requests")
    with app.test_request_context("/admin/requests/"):
        assert view.get_url("admin.static", filename="a.js", _external=True) == "http://localhost/admin/static/a.js"
        assert view.get_url("requests.index_view", page=2) == "/admin/requests/?page=2"


def test_query_string_drops_none_and_expands_lists():
    assert query_string({"a": None, "b": [1, None, "x y"], "c": "é"}) == "b=1&b=x+y&c=%C3%A9"
    assert query_string({}) == ""


def test_the_queue_page_links_are_unchanged(client, world, login):
    """The list page's sort, page-size and static links through the kept paths, as url_for writes them."""
    login("agent.gironde")
    page = client.get("/admin/requests/?search=Jean&page_size=50").get_data(as_text=True)
    assert 'href="/admin/requests/?sort=0&amp;search=Jean&amp;page_size=50"' in page
    assert 'href="/admin/requests/?search=Jean&amp;page_size=100"' in page
    assert "/admin/static/vendor/jquery.min.js?v=3.5.1" in page


def test_flask_admin_asks_get_url_for_static_files_and_list_links(client, world, login, monkeypatch):
    """The hook still serves: Flask-Admin's templates ask the view's get_url for both kinds of URL
    (a Flask-Admin that stopped would leave the cache unused, and this test failing)."""
    asked = []
    original = CachedUrlsMixin.get_url

    def counting(self, endpoint, **kwargs):
        asked.append(endpoint)
        return original(self, endpoint, **kwargs)

    monkeypatch.setattr(CachedUrlsMixin, "get_url", counting)
    login("agent.gironde")
    assert client.get("/admin/requests/").status_code == 200
    assert asked.count("admin.static") >= 15
    assert asked.count(".index_view") >= 10
