"""Schemathesis against a live `rag serve` (real models, real HTTP, an API key set), with every
check it has: no 5xx, statuses, content types and bodies as /openapi.json documents them,
requests the schema accepts are answered and those it rejects get a 4xx, 405s name what is
allowed, and the key is enforced. RAG_FUZZ_EXAMPLES sets examples per operation (the suite
runs 25; `make test-fuzz` runs 200)."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from rag.apps.server import create_app
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.tools import hostile

from ..server_fixture import running

EXAMPLES = int(os.environ.get("RAG_FUZZ_EXAMPLES", "25"))
AUTH = {"Authorization": f"Bearer {hostile.KEY}"}

# The schema as this server configuration publishes it (no model is loaded to build it).
schema = schemathesis.openapi.from_dict(create_app(Assistant(Settings(api_key=hostile.KEY))).openapi())


@pytest.fixture(scope="module")
def live_url(assistant):
    keyed = Assistant(assistant.settings.with_(api_key=hostile.KEY), generator=assistant.generator,
                      embedder=assistant.embedder)
    with running(keyed) as (url, _):
        yield url


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, live_url):
    case.call_and_validate(base_url=live_url, headers=AUTH, timeout=120)
