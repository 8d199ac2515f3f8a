"""A moto server on a free local port, for tests that run real AWS calls without an AWS account.

Import the fixture into a test module (``from moto_server import moto_server``, as tests import
conftest): one server per module. It yields the endpoint URL and sets the environment to fake
credentials and a region (``MOTO_ENVIRONMENT``) for the module's tests and their subprocesses.
The tests are skipped, with the reason, when moto's server cannot start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

REGION = "us-east-1"
MOTO_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Nothing from the developer's own AWS configuration may leak into the tests.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
START_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


def start_moto_server():
    """Start ``python -m moto.server`` and yield its URL until the generator is closed."""
    try:
        import moto.server  # noqa: F401
    except ImportError as error:
        pytest.skip(f"moto's server cannot start: {error} (pip install 'moto[server]')")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # The server logs every request: a file, not a pipe nobody reads, so it never blocks.
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **MOTO_ENVIRONMENT},
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(url):
            if server.poll() is not None:
                log.seek(0)
                lines = log.read().decode(errors="replace").strip().splitlines() or ["no output"]
                pytest.skip(f"moto's server cannot start: exited with {server.returncode}: {lines[-1]}")
            if time.monotonic() > deadline:
                pytest.skip(f"moto's server cannot start: no answer on {url} within {START_SECONDS} s")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def moto_server():
    """The URL of a moto server for this module, with the environment set to talk to it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in MOTO_ENVIRONMENT.items():
            patch.setenv(name, value)
        yield from start_moto_server()


def start_moto_server_with_managed_policies():
    """``start_moto_server`` with AWS-managed policies (ReadOnlyAccess…) loaded, for runbooks that
    attach them, and the test environment set (no profile, no endpoint) until it is closed."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**MOTO_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("PYSYNTH_ENDPOINT_URL", raising=False)
        yield from start_moto_server()
