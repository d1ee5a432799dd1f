"""Publishing on the Hugging Face Hub: a checkpoint as a model repo (`python -m wecl push`). Downloading
lives in `checkpoints`; deploying the explorer as a Space is the app's (`explorer/space.py`).

Every Hub problem a user can cause (no token, a refused token, no permission, no network, a
missing repo or revision) leaves as one WECLError sentence; nothing local is changed by a push.
"""
from __future__ import annotations

import fnmatch
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wecl import cards, checkpoints, weights
from wecl.errors import WECLError
from wecl.model import WECL

# What a checkpoint repo holds besides the weights, config and card, when the folder has them.
EXTRAS = ("train_log.csv", "summary.json")
WEIGHT_PATTERNS = ("model.safetensors", weights.INDEX, "model-*-of-*.safetensors")


@dataclass(frozen=True)
class Published:
    repo_id: str
    commit_url: str
    commit: str
    revision: str  # the branch committed to
    tag: str | None = None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _api(what: str, token: str | None):
    """An HfApi with a token, or a sentence saying why there is none."""
    from huggingface_hub import HfApi, get_token

    if _offline():
        raise WECLError(f"{what}: the Hub is switched off here (HF_HUB_OFFLINE is set); unset it to publish")
    token = token or get_token()
    if not token:
        raise WECLError(f"{what}: no Hugging Face token; log in with `hf auth login` or set HF_TOKEN "
                        "to a token with write access")
    return HfApi(token=token)


# A Hub repo id, owner/name: the one pattern the project checks ids with.
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


def is_repo_id(text: str | None) -> bool:
    """Whether `text` is a Hub repo id (and cannot be read as a local path: no `..`)."""
    return bool(text) and REPO_ID.fullmatch(text) is not None and ".." not in text


@contextmanager
def hub_errors(what: str, reading: bool = False, revision: str | None = None):
    """What huggingface_hub and the network raise, as one sentence starting with `what`: the one
    translator of Hub errors, for downloads (`reading`: a missing repo may be private, the offline
    cache may lack it) and for pushes (a token may be refused or lack permission)."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hf

    try:
        yield
    except WECLError:
        raise
    except hf.HFValidationError:
        raise WECLError(f"{what} is neither a folder nor a valid Hub repo id") from None
    except hf.RevisionNotFoundError:
        raise WECLError(f"{what}: the Hub repo has no revision {revision!r}" if revision
                        else f"{what}: no such revision on the Hub") from None
    except hf.GatedRepoError:
        raise WECLError(f"{what} is a gated Hub repo: accept its conditions on its Hub page"
                        + (", then log in (`hf auth login` or HF_TOKEN) with that account" if reading else " first")) from None
    except hf.RepositoryNotFoundError:
        raise WECLError(f"{what}: no such Hub repo " + ("(or it is private: log in with an account that may read it)"
                                                         if reading else "(or the token may not see it)")) from None
    except (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled):
        raise WECLError(f"{what}: not in the local Hub cache and the Hub cannot be reached (offline or no network); "
                        "download it once online or pass a local folder") from None
    except hf.HfHubHTTPError as error:
        status = getattr(error.response, "status_code", None)
        server = (getattr(error, "server_message", None) or "").strip().splitlines()
        detail = f" (the Hub said: {server[0]})" if server else ""
        if status == 401:
            raise WECLError(f"{what}: the Hub refused the token (invalid or expired); log in again{detail}") from None
        if status == 403:
            raise WECLError(f"{what}: this token may not write there (no permission: a read-only token, "
                            f"or another user's or organisation's namespace){detail}") from None
        raise WECLError(f"{what}: the Hub answered HTTP {status}{detail}") from None
    except Exception as error:  # httpx, sockets, DNS: the network stacks raise many types
        if type(error).__name__ in ("ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException",
                                    "ConnectionError", "RemoteProtocolError", "ReadError"):
            raise WECLError(f"{what}: cannot reach the Hub at {constants.ENDPOINT} (no network?): {error}") from None
        raise WECLError(f"{what}: {'download from the Hub failed' if reading else 'the Hub failed'} "
                        f"({type(error).__name__}: {error})") from None


def _check_repo_id(repo_id: str, what: str) -> str:
    if not is_repo_id(repo_id):
        raise WECLError(f"{what}: {repo_id!r} is not a Hub repo id (owner/name)")
    return repo_id


def download(repo_id: str, revision: str | None) -> tuple[Path, str, str | None]:
    """A checkpoint's files from the Hub (or its local cache): -> (snapshot folder, repo id, commit)."""
    from huggingface_hub import snapshot_download

    where = f"{repo_id}@{revision}" if revision else repo_id
    with hub_errors(f"checkpoint {where!r}", reading=True, revision=revision):
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(checkpoints.HUB_PATTERNS)))
    # snapshot folders are named after the commit they hold
    return folder, repo_id, folder.name


def push_checkpoint(folder: str | os.PathLike, repo_id: str, revision: str | None = None, tag: str | None = None,
                    private: bool = False, token: str | None = None, message: str | None = None) -> Published:
    """Upload a checkpoint folder to a Hub model repo in one commit: config, weights (one file or
    shards + index; weights of the other layout left from an earlier push are deleted), the model
    card with front matter and citation, and the training log when there is one. The folder is
    loaded first: a checkpoint that does not load is not published."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    folder = Path(folder)
    what = f"push {repo_id}" + (f"@{revision}" if revision else "")
    _check_repo_id(repo_id, "push")
    if not folder.is_dir():
        raise WECLError(f"push: {folder} is not a checkpoint folder")
    api = _api(what, token)  # no token, no need to read the weights
    model = WECL.from_pretrained(folder)  # refuses a broken checkpoint with its own message
    files = {p.name: p for p in weights.weight_files(folder)}
    if (folder / weights.INDEX).is_file():
        files[weights.INDEX] = folder / weights.INDEX
    files["config.json"] = folder / "config.json"
    files.update({name: folder / name for name in EXTRAS if (folder / name).is_file()})
    card = cards.published_card(folder, model.config).encode()
    branch = revision or "main"
    with hub_errors(what):
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        remote = set(api.list_repo_files(repo_id, revision=branch))
        stale = [name for name in remote if name not in files
                 and any(fnmatch.fnmatch(name, pattern) for pattern in WEIGHT_PATTERNS)]
        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in sorted(files.items())]
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card))
        operations += [CommitOperationDelete(path_in_repo=name) for name in sorted(stale)]
        info = api.create_commit(repo_id, operations, commit_message=message or f"Upload WECL checkpoint {folder.name}",
                                 revision=branch)
        if tag:
            api.create_tag(repo_id, tag=tag, revision=info.oid, tag_message=f"WECL checkpoint {folder.name}")
    return Published(repo_id, info.commit_url, info.oid, branch, tag)
