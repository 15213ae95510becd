"""Property-based requests against the published OpenAPI schema: no input gives a 500."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.web.conftest import Site

EXAMPLES = 25  # per operation: bounded, so the suite stays quick


def test_no_server_errors(site: Site) -> None:
    schema = schemathesis.openapi.from_url(f"{site.url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same examples every run: a failure can be replayed
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def no_500(case: schemathesis.Case) -> None:
            response = case.call(base_url=site.url, headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        no_500()
    assert "GET /api/v1/customers" in tried and len(tried) >= 15
