"""deploy/aws/template.yaml: cfn-lint finds nothing (offline); it deploys what the code needs."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml

from catalog_ingest.client.aws import dynamodb

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "aws" / "template.yaml"


def template() -> Any:
    return cfn_yaml.load(str(TEMPLATE))


def resources(kind: str) -> dict[str, Any]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_finds_nothing() -> None:
    assert [str(m) for m in lint_file(TEMPLATE)] == []


def test_cfn_lint_would_catch_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("Runtime: python3.12", "Runtime: python2.1"))
    assert lint_file(broken)


def test_the_table_is_the_one_the_dynamodb_backend_uses() -> None:
    (table,) = resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert [dict(k) for k in props["KeySchema"]] == dynamodb.KEY_SCHEMA
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]
                  ) == sorted((a["AttributeName"], a["AttributeType"]) for a in dynamodb.ATTRIBUTES)
    declared = {i["IndexName"]: ([dict(k) for k in i["KeySchema"]],
                                 i["Projection"]["ProjectionType"])
                for i in props["GlobalSecondaryIndexes"]}
    assert declared == {i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"])
                        for i in dynamodb.INDEXES}


def test_the_handlers_named_exist() -> None:
    for function in resources("AWS::Lambda::Function").values():
        module, name = function["Properties"]["Handler"].rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))
        env = function["Properties"]["Environment"]["Variables"]
        assert {"CATALOG_INGEST_ENDPOINT", "CATALOG_INGEST_TRACKING_TABLE",
                "CATALOG_INGEST_RESULTS_BUCKET", "CATALOG_INGEST_RESULTS_PREFIX",
                "CATALOG_INGEST_MAPPING", "CATALOG_API_ROLE_ARN"} <= set(env)


def test_only_the_providers_topic_may_send_to_the_queue() -> None:
    (policy,) = resources("AWS::SQS::QueuePolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Ref": "ProviderSnsTopicArn"}}}


def test_the_role_is_least_privilege_with_execute_api_invoke() -> None:
    (role,) = resources("AWS::IAM::Role").values()
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    plain = [s for s in statements if "Effect" in s]
    actions = [a for s in plain for a in ([s["Action"]] if isinstance(s["Action"], str)
                                          else s["Action"])]
    assert "execute-api:Invoke" in actions
    assert not any(a.endswith("*") for a in actions)
    assert not any(s["Resource"] == "*" for s in plain)
    invoke = next(s for s in plain if s["Action"] == "execute-api:Invoke")
    assert invoke["Resource"] == {"Ref": "CatalogApiArn"}


def test_sqs_partial_batch_failures_are_enabled() -> None:
    (mapping,) = resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (queue,) = [q for n, q in resources("AWS::SQS::Queue").items() if n == "CompletionQueue"]
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 1
