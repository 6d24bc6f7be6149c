def test_admin_pages_render_for_caisse_admin(client, world, login):
    login("admin.gironde")
    for url in [
        "/admin/",
        "/admin/structures/",
        "/admin/conventions/",
        "/admin/managers/",
        "/admin/agents/",
        "/admin/catalog/",
        "/admin/outbox/",
        "/admin/audit/",
        "/admin/structures/new/",
        "/admin/conventions/new/",
        "/admin/managers/new/",
        "/admin/agents/new/",
    ]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:3000])


def test_admin_pages_render_for_national(client, world, login):
    login("admin")
    for url in [
        "/admin/",
        "/admin/caisses/",
        "/admin/caisses/new/",
        "/admin/structures/",
        "/admin/conventions/",
        "/admin/conventions/new/",
        "/admin/managers/",
        "/admin/agents/new/",
        "/admin/catalog/",
        "/admin/outbox/",
    ]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:3000])
