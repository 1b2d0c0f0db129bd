"""Property-based fuzzing of the whole OpenAPI description with schemathesis.

Every operation gets generated requests (with the API key); no response may be
a 5xx, and every response must match the documented status codes, content
types and schemas. The GeoJSON upload gets fewer examples: generating
FeatureCollections from their schema is slow. Background jobs started by the
fuzzer are cancelled at the end so that they do not outlive the test.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.test_api_helpers import HEADERS, make_app

APP = make_app()
# Examples and random generation only: the boundary-value "coverage" phase alone
# would take minutes on the GeoJSON schemas.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module", autouse=True)
def _cancel_jobs():
    yield
    APP.state.lifecircle.jobs.cancel_all()


@pytest.mark.slow
@schema.exclude(path="/layers", method="POST").parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_schema(case):
    case.call_and_validate(headers=HEADERS, checks=CHECKS)


@pytest.mark.slow
@schema.include(path="/layers", method="POST").parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_schema_geojson_upload(case):
    case.call_and_validate(headers=HEADERS, checks=CHECKS)
