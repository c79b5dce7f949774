"""The kiosk's command journal on disk: folded events, torn writes, compaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pvp.kiosk.journal import Journal


def test_events_fold_into_entries_and_survive_a_reopen(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.record("p-1", "received", name="print", call="c", args={"title": "x"})
    journal.record("p-1", "accepted")
    journal.put_spool("p-1", "print", b"%PDF-1.4 ...")
    journal.record("s-1", "received", name="scan", call="c", args={"pages": 2})
    journal.record("s-1", "final", status="failed", reason="scanner absent", details={})
    journal.record("s-1", "answered")
    journal.close()

    again = Journal(tmp_path)
    [unfinished] = again.unfinished()
    assert (unfinished.id, unfinished.name, unfinished.state) == ("p-1", "print", "accepted")
    assert again.spool_path("p-1", "print").read_bytes() == b"%PDF-1.4 ..."
    done = again.get("s-1")
    assert (
        done is not None
        and done.answered
        and done.final
        == {
            "status": "failed",
            "reason": "scanner absent",
            "details": {},
        }
    )
    again.close()


def test_a_torn_last_line_is_ignored_and_the_next_event_starts_clean(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.record("p-1", "received", name="print", call="c", args={})
    journal.close()
    with open(tmp_path / "journal.jsonl", "a") as fh:
        fh.write('{"at": "2026-11-29T10:00:00+00:00", "id": "p-1", "ev')  # power cut
    again = Journal(tmp_path)
    again.record("p-1", "accepted")
    again.close()
    third = Journal(tmp_path)
    entry = third.get("p-1")
    assert entry is not None and entry.events == ["received", "accepted"]
    third.close()


def test_compaction_forgets_only_old_answered_commands(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for ident in ("old-done", "old-open"):
        journal.record(ident, "received", name="print", call="c", args={})
    journal.record("old-done", "final", status="done", reason=None, details={})
    journal.record("old-done", "answered")
    assert journal.compact() == 0  # a week has not passed yet
    later = datetime.now(UTC) + timedelta(days=8)
    assert journal.compact(now=later) == 1  # unanswered commands are never forgotten
    assert journal.get("old-done") is None and journal.get("old-open") is not None
    journal.record("old-open", "accepted")  # the file is still appended to after rewriting
    journal.close()
    reopened = Journal(tmp_path)
    [entry] = reopened.unfinished()
    assert (entry.id, entry.events) == ("old-open", ["received", "accepted"])
    assert reopened.get("old-done") is None
    reopened.close()
