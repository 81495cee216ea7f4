"""20 krat processes racing for one name: one winner, and a consistent database."""

import sqlite3
import subprocess

from store_state import store_state


def test_twenty_tags_and_imports_race_for_one_name(krat, busybox_image, busybox_tar):
    # ten distinct images to tag (same layer, different configs), plus ten imports
    sources = [krat.ok("import", "-c", f"LABEL n={i}", str(busybox_tar), f"src:{i}").stdout.strip()
               for i in range(10)]
    procs = [subprocess.Popen(krat.argv("tag", f"src:{i}", "race:1"), env=krat.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(10)]
    procs += [subprocess.Popen(krat.argv("import", "-c", f"LABEL m={i}", str(busybox_tar), "race:1"),
                               env=krat.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for i in range(10)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    for code, out, err in results:
        assert code == 0 and b"Traceback" not in err, (code, out, err)
    imported = {out.decode().strip() for code, out, _ in results[10:]}
    assert len(imported) == 10

    db = sqlite3.connect(krat.root / "krat.db")
    winners = db.execute("SELECT image_id FROM tags WHERE name = 'docker.io/library/race:1'").fetchall()
    assert len(winners) == 1 and winners[0][0] in set(sources) | imported
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # one layer shared by all 21 images, counted once per use
    assert db.execute("SELECT diff_id, refcount FROM layers").fetchall() == [
        (db.execute("SELECT diff_id FROM image_layers LIMIT 1").fetchone()[0], 21)]
    assert db.execute("SELECT COUNT(*) FROM images").fetchone() == (21,)
    state = store_state(krat.root)
    assert state["content/ingest"] == [] and state["layers/.tmp"] == []
    blobs = set(state["content/blobs/sha256"])
    for image_id, manifest in db.execute("SELECT id, manifest_digest FROM images"):
        assert image_id[7:] in blobs and manifest[7:] in blobs
    # the loser images are still there, untagged; the name lists exactly one row
    rows = krat.ok("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    losers = 10 - (winners[0][0] in imported)  # imports that lost the name are left untagged
    assert rows.count("race:1") == 1 and rows.count("<none>:<none>") == losers
