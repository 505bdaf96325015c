"""The task queue works on both storages the deployment can choose."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from takedown.lib.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TAKEDOWN_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (make test installs it)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    try:

        def accepts() -> bool:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True

        wait_until(
            accepts,
            timeout=30,
            tolerate=(OSError,),
            what="redis-server to accept connections",
        )
        yield f"redis://127.0.0.1:{port}/15"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _roundtrip(huey: Huey) -> None:
    @huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    result = add(2, 3)
    # What a worker does: take the task off the queue and run it.
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    assert result.get() == 5
    assert huey.dequeue() is None


def test_it_runs_tasks_through_redis(redis_url: str) -> None:
    huey = RedisHuey("takedown-test", url=redis_url)
    huey.flush()
    _roundtrip(huey)


def test_it_runs_tasks_through_sqlite(tmp_path: Path) -> None:
    _roundtrip(SqliteHuey("takedown-test", filename=str(tmp_path / "q.sqlite3")))
