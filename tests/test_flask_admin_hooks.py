"""Every Flask-Admin hook the back office overrides (listed in backoffice/views/base.py's docstring)
still exists in the installed Flask-Admin with the signature we override, and Flask-Admin still
calls it where we rely on it: a Flask-Admin upgrade that renamed, re-signed or stopped calling one
fails here, not silently in production."""

import inspect
import re

import pytest
from flask import request
from flask_admin.base import BaseView
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.base import BaseModelView
from helpers import add_request, page_text
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEntry
from backoffice.views import base
from backoffice.views.news import NewsView
from backoffice.views.requests import RequestView

# hook -> (Flask-Admin class that defines it, its parameters after self)
HOOKS = {
    "is_accessible": (BaseView, []),
    "inaccessible_callback": (BaseView, ["name", "kwargs"]),
    "_handle_view": (BaseView, ["name", "kwargs"]),
    "get_query": (ModelView, []),
    "get_count_query": (ModelView, []),
    "get_one": (ModelView, ["id"]),
    "create_model": (ModelView, ["form"]),
    "update_model": (ModelView, ["form", "model"]),
    "delete_model": (ModelView, ["model"]),
    "get_list": (ModelView, ["page", "sort_column", "sort_desc", "search", "filters", "execute", "page_size"]),
    "search_placeholder": (ModelView, []),
    "_get_list_extra_args": (BaseModelView, []),
    "get_invalid_value_msg": (BaseModelView, ["value", "filter"]),
    "get_save_return_url": (BaseModelView, ["model", "is_created"]),
    "_get_filter_groups": (BaseModelView, []),
    "_export_data": (BaseModelView, []),
    "get_export_name": (BaseModelView, ["export_type"]),
    "_get_column_by_idx": (BaseModelView, ["idx"]),
    "create_form": (BaseModelView, ["obj"]),
    "edit_form": (BaseModelView, ["obj"]),
    "on_form_prefill": (BaseModelView, ["form", "id"]),
}


def test_the_docstring_lists_every_hook_tested_here():
    listed = set(re.findall(r"(\w+)\(", base.__doc__))
    assert set(HOOKS) <= listed, set(HOOKS) - listed


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_still_exists_with_the_signature_we_override(name):
    owner, parameters = HOOKS[name]
    assert name in vars(owner), f"{owner.__name__}.{name} is gone from Flask-Admin"
    signature = inspect.signature(vars(owner)[name])
    assert list(signature.parameters)[1:] == parameters, signature


def _source(method) -> str:
    return inspect.getsource(method)


def test_flask_admin_views_still_call_the_write_and_return_hooks():
    """create/update/delete and the return URL after a save: Flask-Admin's views still call them
    (the behaviour is tested through the client by the views' own tests and test_redirects.py)."""
    assert "self.create_model(form)" in _source(BaseModelView.create_view)
    assert "self.update_model(form, model)" in _source(BaseModelView.edit_view)
    assert "self.delete_model(model)" in _source(BaseModelView.delete_view)
    assert "self.get_save_return_url(" in _source(BaseModelView.create_view)
    assert "self.get_save_return_url(" in _source(BaseModelView.edit_view)
    assert "self.on_form_prefill(" in _source(BaseModelView.edit_view)
    assert "self._export_data()" in _source(BaseModelView._export_csv)
    assert "self._export_data()" in _source(BaseModelView._export_tablib)
    assert "self.get_export_name(" in _source(BaseModelView._export_csv)


@pytest.fixture
def spy(monkeypatch):
    """spy(cls, name): wraps cls.name; the returned list records each call's result."""

    def _spy(cls, name, check=None):
        original = getattr(cls, name)
        calls = []

        def wrapper(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            calls.append(result)
            if check is not None:
                check(result)
            return result

        monkeypatch.setattr(cls, name, wrapper)
        return calls

    return _spy


def test_role_hooks_are_called(client, login, world, spy):
    accessible = spy(base.RoleMixin, "is_accessible")
    refused = spy(base.RoleMixin, "inaccessible_callback")
    response = client.get("/admin/requests/")
    assert response.status_code == 302 and "/admin/connexion" in response.headers["Location"]
    assert accessible == [False] and len(refused) == 1
    login("agent.gironde")
    accessible.clear()
    assert client.get("/admin/requests/").status_code == 200 and accessible[0] is True
    assert client.get("/admin/caisses/").status_code == 403  # national admin only


def test_handle_view_drops_an_offsite_return_url(client, login, world, spy):
    seen = []
    spy(base.RoleMixin, "_handle_view", check=lambda result: seen.append(request.args.getlist("url")))
    login("agent.gironde")
    assert client.get("/admin/requests/?url=https://evil.example/").status_code == 200
    assert seen == [[]]
    assert client.get("/admin/requests/?url=/admin/").status_code == 200
    assert seen[-1] == ["/admin/"]


def test_scoping_hooks_are_called(client, login, world, spy):
    oise = world["oise"]
    other = add_request(oise["convention"], oise["manager"])
    queries = spy(base.SecureModelView, "get_query")
    login("agent.gironde")
    assert client.get(f"/admin/requests/traiter/?id={other.id}").status_code == 404 and queries


def test_count_query_is_called(client, login, world, spy):
    counts = spy(base.SecureModelView, "get_count_query")
    login("admin.gironde")
    body = page_text(client.get("/admin/conventions/"))
    assert counts and "Liste (1)" in body  # Gironde's one convention, not Oise's


def test_get_one_is_called_with_an_id_out_of_range(client, login, world, spy):
    calls = spy(base.SecureModelView, "get_one")
    login("admin")
    response = client.get("/admin/caisses/edit/?id=99999999999999999999")
    assert response.status_code == 302 and calls == [None]


def test_queue_hooks_are_called(client, login, world, spy):
    gironde, oise = world["gironde"], world["oise"]
    mine = add_request(gironde["convention"], gironde["manager"])
    lists = spy(RequestView, "get_list")
    groups = spy(RequestView, "_get_filter_groups")
    args = spy(base.SecureModelView, "_get_list_extra_args")
    login("agent.gironde")
    html = client.get("/admin/requests/?page=99999999999").get_data(as_text=True)
    assert lists and lists[0][0] == 1 and len(lists[0][1]) == 1  # the page bounded to the first
    assert args and args[0].page == 0
    assert "N° de demande, nom ou prénom de la personne, structure" in html  # search_placeholder
    names = {label for items in groups[0].values() for item in items for _value, label in item.get("options") or ()}
    assert gironde["structure"].name in names and oise["structure"].name not in names
    assert mine.number in client.get("/admin/requests/").get_data(as_text=True)


def test_invalid_filter_value_message_is_french(client, login, world, spy):
    messages = spy(base.SecureModelView, "get_invalid_value_msg")
    login("agent.gironde")
    html = client.get("/admin/requests/?flt0_structure_est=99999999999999999999").get_data(as_text=True)
    assert messages and messages[0] in page_text(html)
    assert "n'est pas appliqué" in messages[0]


def test_export_hooks_are_called(client, login, world, spy):
    gironde = world["gironde"]
    req = add_request(gironde["convention"], gironde["manager"])
    exported = spy(RequestView, "_export_data")
    columns = spy(RequestView, "_get_column_by_idx")
    login("agent.gironde")
    response = client.get("/admin/requests/export/csv/?sort=0")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and req.number in body
    assert re.search(r'filename="?demandes_\d{4}-\d{2}-\d{2}_', response.headers["Content-Disposition"])
    assert exported and exported[0][0] == 1 and columns and columns[0][0] == "number"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "request.export")) is not None


def test_form_hooks_are_called(client, login, world, spy):
    created = spy(NewsView, "create_form")
    login("admin.gironde")
    assert client.get("/admin/news/new/").status_code == 200 and created
