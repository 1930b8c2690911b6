"""memory:// needs the burner-redis package: without it, opening such a URL fails
with an ImportError that names the package, whether or not an engine for that URL
was opened earlier in the process."""

from __future__ import annotations

import sys

import pytest

from docket import Docket, StrikeList


async def test_a_cached_memory_url_still_needs_burner_redis(
    monkeypatch: pytest.MonkeyPatch,
):
    """An engine already open for ``memory://missing`` does not hide that the
    package became unimportable: a Docket and a StrikeList on it raise ImportError
    naming ``burner_redis``; with the package back the URL opens again."""
    async with Docket(name="engine-first", url="memory://missing"):
        pass  # the engine for this URL is now cached
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "burner_redis", None)
        with pytest.raises(ImportError, match="burner_redis"):
            await StrikeList(url="memory://missing", name="strikes").__aenter__()
        with pytest.raises(ImportError, match="burner_redis"):
            await Docket(name="engine-again", url="memory://missing").__aenter__()
    async with Docket(name="engine-back", url="memory://missing") as docket:
        assert await docket.snapshot() is not None
