"""`run -v` shows all of a step's output, or says what it skipped and where the log is."""

from __future__ import annotations

from pathlib import Path

from mlrecipes.core.events import Event, StepLog
from mlrecipes.core.run.log_follow import TAIL_AFTER_END, LogFollower


def _follow(log: Path) -> list[str]:
    seen: list[Event] = []
    follower = LogFollower(seen.append)
    follower.follow("k", "s", log)
    follower.stop("k")
    return [e.line for e in seen if isinstance(e, StepLog)]


def test_every_line_of_a_finished_log_is_shown(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text("".join(f"line {i}\n" for i in range(20_000)))
    lines = _follow(log)
    assert lines == [f"line {i}" for i in range(20_000)]


def test_a_huge_backlog_is_skipped_with_a_notice_naming_the_log(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    row = "x" * 99 + "\n"
    log.write_text(row * (3 * TAIL_AFTER_END // len(row)) + "the last line\n")
    lines = _follow(log)
    notices = [line for line in lines if "bytes of output skipped" in line]
    assert len(notices) == 1 and str(log) in notices[0]
    assert lines[-1] == "the last line"
    assert len(lines) < 2 * TAIL_AFTER_END // len(row)
