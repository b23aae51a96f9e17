"""The Hugging Face Hub client: the only module that imports ``huggingface_hub``.

Small files (``config.json``, the index) go through ``hf_hub_download`` into the standard cache, so a
second run and ``HF_HUB_OFFLINE=1`` find them there; the revision is resolved to a commit once and
every later request pins that commit. The token comes from the usual places (``HF_TOKEN``, the file
``hf auth login`` writes). Every client error becomes one :class:`~wsep_cli.errors.WsepError` line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsep_cli.errors import UnreadableError, UsageError, WsepError
from wsep_cli.hf.spec import HubSpec

__all__ = ["HubRepo", "hub_errors", "offline_error"]

try:
    import huggingface_hub as _hub
    from huggingface_hub import constants as _constants
    from huggingface_hub import errors as _errors
    from huggingface_hub import file_download as _fd
    from huggingface_hub import utils as _utils
except ImportError as _e:  # the light install: `pip install "wsep[hf]"` brings it
    raise UsageError(
        'hf: and timm: sources need huggingface_hub, which is not installed; run: pip install "wsep[hf]"'
    ) from _e


def offline_error(label: str, what: str) -> UsageError:
    """The one-line error for something that is neither cached nor fetchable (exit 2, like a missing
    path, as for ``timm:``: nothing was read that could be unreadable)."""
    why = "offline mode is set (HF_HUB_OFFLINE)" if _constants.is_offline_mode() else "the Hub cannot be reached"
    return UsageError(
        f"{label}: {what} is not in the local Hugging Face cache and {why}; run once with network access "
        "(the header and the head are cached), or score a downloaded model folder"
    )


@contextlib.contextmanager
def hub_errors(label: str) -> Iterator[None]:
    """Translate huggingface_hub / HTTP errors into wsep's one-line errors (exit 2 or 4)."""
    import httpx2

    try:
        yield
    except WsepError:
        raise
    except _errors.GatedRepoError as e:
        raise UsageError(
            f"{label}: the repo is gated; accept its terms on the Hub, then log in with `hf auth login` "
            "or set HF_TOKEN"
        ) from e
    except _errors.RepositoryNotFoundError as e:
        raise UsageError(
            f"{label}: no such model repo on the Hub (or it is private: log in with `hf auth login` or set HF_TOKEN)"
        ) from e
    except _errors.RevisionNotFoundError as e:
        raise UsageError(f"{label}: the repo has no such revision; name a branch, tag or commit (--revision)") from e
    except (_errors.OfflineModeIsEnabled, _errors.LocalEntryNotFoundError) as e:
        raise offline_error(label, "the model") from e
    except _errors.HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        raise UnreadableError(f"{label}: the Hub answered HTTP {status}; try again later") from e
    except (httpx2.HTTPError, OSError) as e:
        raise UnreadableError(f"{label}: the Hub transfer failed ({type(e).__name__}: {' '.join(str(e).split())[:160]})") from e


@dataclass
class HubRepo:
    """One model repo at one revision; :meth:`resolve` pins the commit."""

    spec: HubSpec
    label: str
    commit: str | None = None
    bytes_downloaded: int = 0
    _cache_dir: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        self._cache_dir = str(_constants.HF_HUB_CACHE)

    @property
    def cache_dir(self) -> Path:
        return Path(self._cache_dir)

    @property
    def folder_name(self) -> str:
        return _fd.repo_folder_name(repo_id=self.spec.repo, repo_type="model")

    @staticmethod
    def offline() -> bool:
        return bool(_constants.is_offline_mode())

    def _revision(self) -> str:
        return self.commit or self.spec.revision or _constants.DEFAULT_REVISION

    def resolve(self) -> Path:
        """Fetch (or find in the cache) ``config.json``; pin the commit it came from; return its path.

        Raises:
            UsageError, UnreadableError: see :func:`hub_errors`; a repo without config.json (exit 4).
        """
        path = self.file("config.json")
        if path is None:
            raise UnreadableError(f"{self.label}: the repo has no config.json; wsep reads Hugging Face model repos")
        self.commit = path.parent.name
        return path

    def file(self, name: str, *, optional: bool = False) -> Path | None:
        """A small file of the repo, from the cache or downloaded into it; None when the repo lacks it.

        ``optional``: offline, a file the cache knows nothing of counts as absent (an index that a user's
        earlier download of ``model.safetensors`` never asked for) instead of an error.

        Before the commit is pinned, an online run asks the Hub where the branch points (a HEAD request);
        after it, or offline, the cache answers alone.
        """
        if self.commit is not None or self.offline():
            cached = _hub.try_to_load_from_cache(self.spec.repo, name, cache_dir=self._cache_dir, revision=self._revision())
            if isinstance(cached, str):
                return Path(cached)
            if cached is _fd._CACHED_NO_EXIST or (optional and self.offline()):
                return None
        with hub_errors(self.label):
            try:
                path = _hub.hf_hub_download(self.spec.repo, name, revision=self._revision(), cache_dir=self._cache_dir)
            except _errors.RemoteEntryNotFoundError:
                return None
            except _errors.LocalEntryNotFoundError as e:
                raise offline_error(self.label, name) from e
        return Path(path)

    def cached_file(self, name: str) -> Path | None:
        """The whole file when it is in the cache already (someone downloaded it), else None."""
        cached = _hub.try_to_load_from_cache(self.spec.repo, name, cache_dir=self._cache_dir, revision=self._revision())
        return Path(cached) if isinstance(cached, str) else None

    def url(self, name: str) -> str:
        return str(_hub.hf_hub_url(self.spec.repo, name, revision=self._revision()))

    def get(self, name: str, start: int, end: int) -> Any:
        """A streaming GET of bytes ``start..end-1`` of ``name`` (a context manager over the response)."""
        headers = _utils.build_hf_headers()
        headers["Range"] = f"bytes={start}-{end - 1}"
        headers["Accept-Encoding"] = "identity"
        return _utils.get_session().stream("GET", self.url(name), headers=headers)

    @staticmethod
    def raise_for_status(response: Any) -> None:
        _utils.hf_raise_for_status(response)

    @staticmethod
    def progress(total: int, desc: str) -> Any:
        """huggingface_hub's own progress bar on stderr (honours HF_HUB_DISABLE_PROGRESS_BARS)."""
        return _utils.tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=total < 4 * 1024 * 1024)
