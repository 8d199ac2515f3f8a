"""`--engine dask`: reading on a Dask cluster gives exactly what the local engine gives, and a
scheduler that does not answer is one line and exit 2."""

from __future__ import annotations

import tarfile

import pytest

from conftest import run_cli, run_process

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'pysynth[dask]'")


@pytest.fixture(scope="module")
def cluster():
    """A local cluster of two worker processes, as a remote one would be reached: by address."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


@pytest.fixture
def trail_directory(shared, tmp_path):
    with tarfile.open(shared / "invictus_aws_dataset_raw_cloudtrail.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    return str(tmp_path)


def test_the_dask_engine_gives_exactly_the_local_output(cluster, trail_directory, monkeypatch):
    from pysynth.ingest import engines

    monkeypatch.setattr(engines, "TASK_BYTES", 64 * 1024)  # many small tasks, shared by both workers
    local = run_cli("events", "--json", "--all-principals", trail_directory)
    with distributed.Client(cluster) as client, distributed.get_task_stream(client) as stream:
        on_cluster = run_cli("events", "--json", "--all-principals", "--engine", "dask",
                             "--scheduler", cluster.scheduler_address, trail_directory)
    assert on_cluster.code == 0, on_cluster.stderr
    assert on_cluster.stdout == local.stdout
    assert len(local.stdout.splitlines()) == 2900
    assert on_cluster.stderr == local.stderr
    assert len({task["worker"] for task in stream.data}) == 2  # both workers read


def test_synth_and_tasks_on_the_cluster_match_the_local_engine(cluster, trail_directory):
    for command in (["synth", "--principal", "bert-jan", "--since", "2023-07-10T11:54:00Z", "--until", "2023-07-10T11:56:00Z"],
                    ["tasks", "--json", "--gap", "2m"]):
        local = run_cli(*command, trail_directory)
        on_cluster = run_cli(*command, "--engine", "dask", "--scheduler", cluster.scheduler_address, trail_directory)
        assert local.code == 0, local.stderr
        assert on_cluster.stdout == local.stdout


def test_without_an_address_a_local_cluster_is_started(trail_directory):
    result = run_process("events", "--json", "--principal", "bert-jan", "--engine", "dask", trail_directory)
    assert result.code == 0, result.stderr
    assert sum('"status":"kept"' in line for line in result.stdout.splitlines()) == 415


def test_a_scheduler_that_does_not_answer_is_one_line_and_exit_2(tmp_path, monkeypatch):
    from pysynth.ingest import dask_engine

    monkeypatch.setattr(dask_engine, "CONNECT_SECONDS", 2)
    log = tmp_path / "log.json"
    log.write_text('{"Records": []}')
    result = run_cli("events", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", str(log))
    assert result.code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: no Dask scheduler answers at tcp://127.0.0.1:9")


def test_an_unknown_engine_is_a_usage_error(tmp_path):
    result = run_cli("events", "--engine", "spark", str(tmp_path))
    assert result.code == 2 and "'spark' is not one of local, dask" in result.stderr


def test_without_dask_installed_the_option_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if not installed
    result = run_cli("events", "--engine", "dask", str(tmp_path))
    assert result.code == 2
    assert result.stderr.strip() == "error: --engine dask needs Dask's distributed scheduler: pip install 'pysynth[dask]'"
