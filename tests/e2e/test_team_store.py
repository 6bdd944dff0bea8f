"""The team store end to end: two machines, one real ``mlflow server`` on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.mlflow_server import (
    MlflowServer,
    mlflow_server_fixture,
    start_mlflow_server,
    stop_mlflow_server,
)
from tests.helpers.team_store_repos import make_machines, on_machine, ran
from typer.testing import CliRunner

from mlrecipes.cli.main import app
from mlrecipes.core import RunOptions, Workspace
from mlrecipes.core.events import Event, StepFinished, TeamStoreNotice
from mlrecipes.core.store.local import Store
from mlrecipes.core.team_store import fetch_entry, find_remote_entry

pytestmark = pytest.mark.slow
mlflow_server = mlflow_server_fixture()
_names = itertools.count()


def _experiment() -> str:
    return f"team-{next(_names)}"


def _run(manifest: Path, **options: Any) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    with on_machine(manifest):
        result = Workspace.load(manifest).run(options=RunOptions(**options), on_event=events.append)
    return result, events


def _outputs(manifest: Path) -> dict[str, bytes]:
    out = manifest.parent / "outputs"
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def _step_runs(uri: str, experiment: str, parent: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs(
        [found.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    return {r.data.tags["mlrecipes.step"]: r for r in runs}


def _notices(events: list[Event]) -> list[str]:
    return [e.message for e in events if isinstance(e, TeamStoreNotice)]


@pytest.fixture
def machines(tmp_path: Path, mlflow_server: MlflowServer) -> tuple[Path, Path, str]:
    name = _experiment()
    m1, m2 = make_machines(tmp_path, mlflow_server.url, name)
    return m1, m2, name


def test_second_machine_runs_nothing_and_gets_the_same_results(
    machines: tuple[Path, Path, str], mlflow_server: MlflowServer
) -> None:
    m1, m2, name = machines
    first, events1 = _run(m1)
    assert ran(m1) == ["prep", "train", "report"]
    assert _notices(events1) == []
    executed = _step_runs(mlflow_server.url, name, first.run_ids[0])
    assert all("mlrecipes.outputs.sha256" in r.data.tags for r in executed.values())

    with on_machine(m2):  # a dry run checks nothing out and builds nothing (issue 25 item 6)
        Workspace.load(m2).sync()
    dry, _ = _run(m2, dry_run=True)
    assert set(dry.plan.remote.values()) == {r.info.run_id for r in executed.values()}
    with on_machine(m2):
        shown = CliRunner().invoke(app, ["run", "-f", str(m2), "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert "0 to run, 0 from the store, 3 from the team store" in shown.output
    train = executed["train"].info.run_id
    assert f"remote train: from team store: run {train}" in shown.output
    second, events2 = _run(m2)
    assert ran(m2) == []
    assert _notices(events2) == []
    assert _outputs(m2) == _outputs(m1)
    sources = {e.step: e.source_run for e in events2 if isinstance(e, StepFinished)}
    assert sources == {step: run.info.run_id for step, run in executed.items()}
    # The parent run records them as remote, with their source, and the same metrics.
    parents = {
        run_id: _parent_metrics(mlflow_server.url, run_id)
        for run_id in (first.run_ids[0], second.run_ids[0])
    }
    assert parents[first.run_ids[0]] == parents[second.run_ids[0]]
    assert _step_runs(mlflow_server.url, name, second.run_ids[0]) == {}  # nothing executed
    tags = _tags(mlflow_server.url, second.run_ids[0])
    for step, source in sources.items():
        assert tags[f"mlrecipes.steps.{step}.cache"] == "remote"
        assert tags[f"mlrecipes.steps.{step}.source_run"] == source


def _parent_metrics(uri: str, run_id: str) -> dict[str, float]:
    from mlflow import MlflowClient

    return dict(MlflowClient(uri).get_run(run_id).data.metrics)


def test_changed_param_on_second_machine_runs_that_step_and_downstream(
    machines: tuple[Path, Path, str],
) -> None:
    m1, m2, _ = machines
    _run(m1)
    result, _ = _run(m2, overrides=("train.lr=0.25",))
    assert ran(m2) == ["train", "report"]
    assert result.plan.remote.keys() == {
        s.fingerprint for s in result.plan.variants[0].steps if s.step == "prep"
    }


def test_tampered_artifact_is_refused_and_the_step_reruns(
    machines: tuple[Path, Path, str], mlflow_server: MlflowServer
) -> None:
    m1, m2, _ = machines
    first, _ = _run(m1)
    train_run = next(r for r in _runs_of(mlflow_server, first.run_ids[0]) if r[0] == "train")[1]
    weights = next((mlflow_server.root / "artifacts").rglob(f"{train_run}/**/weights.json"))
    data = bytearray(weights.read_bytes())
    data[0] ^= 1  # one byte changed on the server's side
    weights.write_bytes(bytes(data))

    _, events = _run(m2)
    assert ran(m2) == ["train"]  # report is taken from the team store: same fingerprint
    (notice,) = _notices(events)
    assert "train: not taken from the team store" in notice
    assert "checksum mismatch on model/model/weights.json" in notice
    assert _outputs(m2) == _outputs(m1)


def _runs_of(server: MlflowServer, parent: str) -> Iterator[tuple[str, str]]:
    from mlflow import MlflowClient

    client = MlflowClient(server.url)
    run = client.get_run(parent)
    for child in client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    ):
        yield child.data.tags["mlrecipes.step"], child.info.run_id


def test_interrupted_download_leaves_no_entry(
    machines: tuple[Path, Path, str], mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient

    m1, m2, name = machines
    first, _ = _run(m1)
    train = next(s for s in first.plan.variants[0].steps if s.step == "train")
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    remote = find_remote_entry(client, experiment.experiment_id, "train", train.fingerprint)
    assert remote is not None
    store = Store(m2.parent / ".mlrecipes" / "store")

    def interrupt(_item: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_entry(remote, store, tracking_uri=mlflow_server.url, on_file=interrupt)
    assert not store.is_complete("train", train.fingerprint)
    assert [p.name for p in (store.root / "train").iterdir()] == []
    done = fetch_entry(
        remote, store, tracking_uri=mlflow_server.url, expected_outputs=train.outputs.values()
    )
    assert done.ok and store.is_complete("train", train.fingerprint)


def test_outputs_above_max_size_are_not_uploaded(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    name = _experiment()
    m1, m2 = make_machines(tmp_path, mlflow_server.url, name, max_size="12B")
    first, events = _run(m1)
    notices = _notices(events)
    assert any(n.startswith("train: not shared: outputs are") for n in notices), notices
    runs = dict(_runs_of(mlflow_server, first.run_ids[0]))
    tags = _tags(mlflow_server.url, runs["train"])
    assert "more than store.max_size (12 B)" in tags["mlrecipes.outputs.skipped"]
    assert "mlrecipes.outputs.sha256" not in tags
    _run(m2)
    assert ran(m2) == ["train"]  # prep's 7-byte table and report's 10 bytes were shared


def _tags(uri: str, run_id: str) -> dict[str, str]:
    from mlflow import MlflowClient

    return dict(MlflowClient(uri).get_run(run_id).data.tags)


def test_no_share_neither_fetches_nor_uploads(machines: tuple[Path, Path, str]) -> None:
    m1, m2, _ = machines
    _run(m1, share=False)
    _run(m2)
    assert ran(m2) == ["prep", "train", "report"]


@pytest.fixture(scope="module")
def server_without_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = start_mlflow_server(tmp_path_factory.mktemp("no-serve"), serve_artifacts=False)
    yield server
    stop_mlflow_server(server)


def test_server_without_artifact_serving_degrades_to_local_caching(
    tmp_path: Path, server_without_artifacts: MlflowServer
) -> None:
    m1, m2 = make_machines(tmp_path, server_without_artifacts.url, _experiment())
    _, events1 = _run(m1)
    (notice,) = _notices(events1)
    assert "started without --serve-artifacts" in notice
    assert ran(m1) == ["prep", "train", "report"]
    _, events2 = _run(m2)
    assert ran(m2) == ["prep", "train", "report"]
    assert len(_notices(events2)) == 1
    again, _ = _run(m2)
    assert again.up_to_date and ran(m2) == ["prep", "train", "report"]


def test_an_oversized_artifact_is_refused_before_it_is_downloaded(
    machines: tuple[Path, Path, str], mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file larger than the manifest says is compared first and never read in full."""
    import requests

    m1, m2, _ = machines
    first, _ = _run(m1)
    train_run = next(r for r in _runs_of(mlflow_server, first.run_ids[0]) if r[0] == "train")[1]
    weights = next((mlflow_server.root / "artifacts").rglob(f"{train_run}/**/weights.json"))
    expected = weights.stat().st_size
    oversized = 64 * 1024 * 1024
    with weights.open("r+b") as fh:  # same first bytes, 64 MiB in all (sparse on the server)
        fh.truncate(oversized)
    received: dict[str, int] = {}
    iter_content = requests.models.Response.iter_content

    def counting(self: requests.Response, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for chunk in iter_content(self, *args, **kwargs):
            if self.url.endswith("weights.json"):
                received[self.url] = received.get(self.url, 0) + len(chunk)
            yield chunk

    monkeypatch.setattr(requests.models.Response, "iter_content", counting)
    _, events = _run(m2)
    assert ran(m2) == ["train"]  # refused, run here; report still comes from the team store
    (notice,) = _notices(events)
    assert notice.startswith("train: not taken from the team store (run "), notice
    assert "size mismatch on model/model/weights.json: " in notice
    assert f"expected {expected}; running it instead" in notice and "\n" not in notice
    # Stopped at the size: never more than the expected size plus one chunk was read.
    assert sum(received.values()) <= expected + 1024 * 1024, received
    assert _outputs(m2) == _outputs(m1)
