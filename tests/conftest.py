"""Shared fixtures: every test gets its own EMBODEX_HOME; small synthetic datasets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import Dataset, DatasetMeta

SHORT = (1.0, 2.0)  # seconds per synthetic episode: enough frames, fast tests


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("embodex-home")
    monkeypatch.setenv("EMBODEX_HOME", str(home))
    monkeypatch.delenv("EMBODEX_CACHE", raising=False)
    monkeypatch.delenv("EMBODEX_DEBUG", raising=False)
    monkeypatch.delenv("EMBODEX_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("EMBODEX_UNITS", raising=False)  # durations in the default (auto) unit
    monkeypatch.delenv("EMBODEX_LEDGER_DIR", raising=False)
    monkeypatch.delenv("EMBODEX_REGION", raising=False)
    for name in ("EMBODEX_CHANNEL", "EMBODEX_CONTRACT", "EMBODEX_KEY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def small_meta() -> DatasetMeta:
    return synth_meta(image_size=32, cameras=("head", "hand_left"))


@pytest.fixture
def small_dataset(tmp_path: Path, small_meta: DatasetMeta) -> Dataset:
    return synth_dataset(tmp_path / "ds", 6, seed=7, meta=small_meta, duration_s=SHORT)


# -- S3: moto's standalone server in its own process (never in-process patching) ----------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(
    port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0, name: str = "moto_server"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout} s")


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto's standalone S3 server in its own process on ``port``, once it listens."""
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(
        [*cmd, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
    except BaseException:
        proc.kill()
        raise
    return proc


def venv_tool(venv: Path, tool: str, what: str, target: str) -> Path:
    """``venv/bin/tool`` of a side venv built by ``make target``, or skip the test saying
    exactly why ``what`` is not there (the build's FAILED file, or no venv at all)."""
    failed = venv / "FAILED"
    if failed.is_file():
        pytest.skip(f"{what} could not be installed: {failed.read_text().strip()}")
    exe = venv / "bin" / tool
    if not exe.is_file():
        pytest.skip(f"no {what} venv at {venv}: run `make {target}` (make test does)")
    return exe


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[dict[str, str]]:
    """An S3 endpoint and credentials: moto_server on a free loopback port, or the store
    named by EMBODEX_TEST_S3_ENDPOINT (with the AWS_* credentials already in the environment).
    """
    external = os.environ.get("EMBODEX_TEST_S3_ENDPOINT")
    if external:
        yield {
            "AWS_ENDPOINT_URL": external,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        }
        return
    port = _free_port()
    proc = start_moto(port)
    try:
        yield {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def _s3_session_bucket(s3_endpoint: dict[str, str]) -> str:
    """One bucket for the session (EMBODEX_TEST_S3_BUCKET, or created on the endpoint)."""
    import boto3

    bucket = os.environ.get("EMBODEX_TEST_S3_BUCKET") or f"embodex-test-{uuid.uuid4().hex[:12]}"
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint["AWS_ENDPOINT_URL"],
        aws_access_key_id=s3_endpoint["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_endpoint["AWS_SECRET_ACCESS_KEY"],
        region_name=s3_endpoint["AWS_DEFAULT_REGION"],
    )
    if not os.environ.get("EMBODEX_TEST_S3_BUCKET"):
        client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_url(
    s3_endpoint: dict[str, str], _s3_session_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """``s3://bucket/<fresh prefix>`` on the test endpoint, AWS_* variables set for the test."""
    for name, value in s3_endpoint.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return f"s3://{_s3_session_bucket}/t-{uuid.uuid4().hex[:12]}"


# -- Hugging Face Hub: tests/hub_server.py in its own process (see its docstring) -------------

#: accounts of the test Hub: token -> (account, role); the centre's organisation owns repos
HUB_TOKENS = {
    "centre": ("hf-centre-token", "hubei-centre", "write"),
    "buyer": ("hf-buyer-token", "agibot", "write"),
    "outsider": ("hf-outsider-token", "outsider", "read"),
}


@pytest.fixture(scope="session")
def hub_endpoint() -> Iterator[str]:
    """The test Hub's URL: tests/hub_server.py on a free loopback port, in its own process."""
    port = _free_port()
    users = [f"--user={tok}={name}:{role}" for tok, name, role in HUB_TOKENS.values()]
    server = Path(__file__).with_name("hub_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(server), "--port", str(port), *users],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc, name="hub_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def use_hub(monkeypatch: pytest.MonkeyPatch, endpoint: str, who: str | None) -> None:
    """Point huggingface_hub at ``endpoint`` with ``who``'s token (None: no token at all)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    if who is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HF_TOKEN", HUB_TOKENS[who][0])
    # the test Hub speaks LFS, not Xet (read once at import, hence the constant too)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture
def hf_url(
    hub_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """``hf://datasets/hubei-centre/<fresh repo>``: a private dataset repo the centre created
    on the test Hub; HF_ENDPOINT and the centre's HF_TOKEN set for the test."""
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))  # no real login
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    use_hub(monkeypatch, hub_endpoint, "centre")
    repo = f"hubei-centre/deliveries-{uuid.uuid4().hex[:10]}"
    HfApi(endpoint=hub_endpoint, token=HUB_TOKENS["centre"][0]).create_repo(
        repo, repo_type="dataset", private=True
    )
    return f"hf://datasets/{repo}"


# -- Ray: a real two-node cluster of processes on 127.0.0.1 (issue 14) ------------------------


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A Ray head and a second node, each its own raylet process with 1 CPU, on loopback.

    Session-scoped: the start-up (a few seconds) is paid once. This process is the driver,
    connected for the whole session; the cluster is shut down by its handle at the end
    (never `ray stop`, which would end every Ray process on a shared machine).
    """
    # Ray keeps 127.0.0.1 only with this set, in every Ray process (they inherit it).
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_AUTH_MODE"] = "disabled"  # loopback-only test cluster
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1"},
    )
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        yield str(cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()
