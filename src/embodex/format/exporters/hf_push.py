"""Uploading an export to a Hub dataset repository (``embodex export hf ... --push REPO``).

``huggingface_hub`` does the work: ``create_repo(exist_ok=True)`` then one
``upload_folder`` commit (Parquet shards go through LFS or Xet as the Hub chooses). The
endpoint is ``HF_ENDPOINT`` (default: the public Hub) and the token the one given, else
``HF_TOKEN`` or the login ``hf auth login`` stored. Errors become one line each through the
Hub storage backend's translation (``storage.hf``): no token, a token refused (401), no
right to write (403), the Hub unreachable.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import StorageAccessError, StorageError
from ...storage.hf import HFStorage, hub_module

__all__ = ["check_push", "push_folder"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_push(repo_id: str, token: str | None) -> None:
    """Refuse, before any work, a repository id that is not ``owner/name`` or a push with
    no token at all (``StorageError``, ``StorageAccessError``)."""
    if not _REPO_ID.match(repo_id):
        raise StorageError(
            f"{repo_id!r} is not a Hub repository id",
            hint="Name the dataset repository as OWNER/NAME (a user or organisation, then "
            "the repository), e.g. hubei-centre/week01.",
        )
    if token is None and hub_module().get_token() is None:
        raise StorageAccessError(
            f"no Hugging Face token to push to {repo_id}",
            hint="Set HF_TOKEN to a token with write access (the Hub's settings, Access "
            "Tokens), pass `token=`, or log in once with `hf auth login`.",
        )


def push_folder(
    folder: str | Path, repo_id: str, *, token: str | None = None, private: bool | None = None
) -> str:
    """Upload ``folder`` to the dataset repository ``repo_id`` (created if missing) in one
    commit; the repository's URL. Raises ``StorageAccessError`` or ``StorageError``."""
    check_push(repo_id, token)
    hf = hub_module()
    store = HFStorage(repo_id)  # the endpoint and the one-line error translation
    api = hf.HfApi(endpoint=store.endpoint, token=token, library_name="embodex")
    try:
        with hf.utils.disable_progress_bars():  # the CLI draws its own
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            api.upload_folder(
                repo_id=repo_id,
                repo_type="dataset",
                folder_path=str(folder),
                commit_message="embodex export hf",
            )
    except Exception as exc:
        raise store.translate_error(exc, "README.md", write=True) from exc
    return f"{store.endpoint}/datasets/{repo_id}"
