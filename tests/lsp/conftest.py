import pytest

from .client import LspClient


@pytest.fixture(scope="module")
def lsp():
    """One running `dhflow lsp`, initialized; killed at the end if a test left it running."""
    client = LspClient()
    client.initialize()
    yield client
    client.kill()
