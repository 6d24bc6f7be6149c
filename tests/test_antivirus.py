"""Uploads scanned by a real ClamAV daemon (Debian's clamav-daemon) with a local test signature.

The daemon is started by the test on a private socket, with only our signature loaded. Without
clamd installed the tests are skipped, except with CI=true (.ci/run installs it).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from backoffice.models import StagedUpload
from backoffice.services import uploads

SIGNATURE = b"ESPACE-PARTENAIRES-TEST-SIGNATURE"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    if not Path(CLAMD).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("clamd is missing; .ci/run installs clamav-daemon")
        pytest.skip("clamd is not installed (apt-get install clamav-daemon)")
    folder = tmp_path_factory.mktemp("clamd")
    (folder / "db").mkdir()
    (folder / "db" / "test.ndb").write_text(f"EspacePartenaires.Test.Signature:0:*:{SIGNATURE.hex()}\n")
    socket_path = folder / "clamd.sock"
    (folder / "clamd.conf").write_text(
        f"LocalSocket {socket_path}\nDatabaseDirectory {folder / 'db'}\nForeground yes\n"
        f"LogFile {folder / 'clamd.log'}\nTemporaryDirectory {folder}\nUser root\n"
    )
    process = subprocess.Popen([CLAMD, "-c", str(folder / "clamd.conf")])  # noqa: S603
    for _ in range(100):
        if socket_path.exists():
            break
        time.sleep(0.2)
    assert socket_path.exists(), (folder / "clamd.log").read_text() if (folder / "clamd.log").exists() else "no log"
    yield str(socket_path)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def scanning(app, clamd, monkeypatch):
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", clamd)


def test_an_infected_file_is_refused_and_a_clean_one_kept(world, scanning):
    tech = world["gironde"]["manager"]
    infected = PDF[:-6] + b"% " + SIGNATURE + b"\n%%EOF\n"
    keys, errors = uploads.stage_with_keys(tech, [("propre.pdf", PDF), ("infecte.pdf", infected)])
    assert errors == ["Le fichier « infecte.pdf » est refusé : l'antivirus y a détecté un virus."]
    assert [s.filename for s in uploads.staged(tech, keys)] == ["propre.pdf"]


def test_an_unreachable_daemon_refuses_uploads(world, app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", str(tmp_path / "absent.sock"))
    tech = world["gironde"]["manager"]
    keys, errors = uploads.stage_with_keys(tech, [("propre.pdf", PDF)])
    assert keys == [] and "n'a pas pu être analysé par l'antivirus" in errors[0]
    assert StagedUpload.query.count() == 0
