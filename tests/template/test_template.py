"""template.yaml: the function's settings and a least-privilege role."""

from __future__ import annotations

import json

import pytest

from sandbox.template import load_template

MUTATING_EC2 = ("ec2:CreateReplaceRootVolumeTask", "ec2:CreateTags", "ec2:DeleteTags")


@pytest.fixture(scope="module")
def template():
    loaded = load_template()
    assert loaded is not None
    return loaded


def statements(template):
    """Every IAM statement the function's role can get, from inline policies and attached policies (both branches)."""
    found = []
    role = template["Resources"]["ReplacementFunctionRole"]["Properties"]
    documents = [p["PolicyDocument"] for p in role["Policies"]]
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            document = resource["Properties"]["PolicyDocument"]
            if "Fn::If" in document:
                for branch in document["Fn::If"][1:]:
                    documents.append(json.loads(branch["Fn::Sub"]) if "Fn::Sub" in branch else branch)
            else:
                documents.append(document)
    for document in documents:
        found.extend(document["Statement"])
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def resources(statement):
    out = []
    for resource in as_list(statement["Resource"]):
        out.append(resource["Fn::Sub"] if isinstance(resource, dict) and "Fn::Sub" in resource else resource)
    return out


def test_function_runtime_and_timeout(template):
    function = template["Resources"]["ReplacementFunction"]["Properties"]
    assert function["Runtime"] == "python3.13" and function["Architectures"] == ["arm64"]
    assert function["Handler"] == "app.handler" and function["CodeUri"] == "src/handler/"
    # waiting windows are ≤ 57 s per invocation plus the time to answer
    assert template["Globals"]["Function"]["Timeout"] >= 57 + 10


def test_no_mutating_action_on_star(template):
    for statement in statements(template):
        actions = as_list(statement["Action"])
        if "*" in resources(statement):
            assert all(":Describe" in action for action in actions), statement


def test_start_replacement_is_scoped_to_the_resource_types_it_needs(template):
    arns = [
        r
        for s in statements(template)
        if "ec2:CreateReplaceRootVolumeTask" in as_list(s["Action"])
        for r in resources(s)
    ]
    for kind in ("instance/*", "snapshot/*", "image/*", "volume/*", "replace-root-volume-task/*"):
        assert any(arn.endswith(kind) for arn in arns), kind
    assert all(":ec2:" in arn for arn in arns)


def test_tagging_only_on_replacement_tasks(template):
    for statement in statements(template):
        if {"ec2:CreateTags", "ec2:DeleteTags"} & set(as_list(statement["Action"])):
            assert all(r.endswith(":replace-root-volume-task/*") for r in resources(statement))


def test_polling_permissions_are_scoped_to_own_rules_and_own_function(template):
    for statement in statements(template):
        actions = as_list(statement["Action"])
        if any(a.startswith("events:") for a in actions):
            assert resources(statement) == ["arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/rvr-*"]
        if any(a.startswith("lambda:") for a in actions):
            assert all(r.endswith(":function:${AWS::StackName}-root-volume-replacement") for r in resources(statement))


def test_required_instance_tag_becomes_an_iam_condition(template):
    policy = template["Resources"]["ReplacementInstancesPolicy"]["Properties"]["PolicyDocument"]["Fn::If"]
    assert policy[0] == "HasRequiredInstanceTag"
    tagged = json.loads(policy[1]["Fn::Sub"])["Statement"][0]
    assert tagged["Condition"] == {
        "StringEquals": {"ec2:ResourceTag/${RequiredInstanceTagKey}": "${RequiredInstanceTagValue}"}
    }


def test_log_group_retention_and_exported_service_token(template):
    log_group = template["Resources"]["ReplacementLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert template["Parameters"]["LogLevel"]["Default"] == "INFO"
    assert template["Outputs"]["ServiceToken"]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-ServiceToken"}


def test_eventbridge_may_invoke_the_function_for_its_own_polling_rules_only_granted_once(template):
    # One grant in the template, not one AddPermission statement per waiting resource: a function's policy is
    # limited to 20 KB, which per-rule statements fill at about 60 resources waiting at once.
    permission = template["Resources"]["PollingInvokePermission"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    properties = permission["Properties"]
    assert properties["FunctionName"] == {"Ref": "ReplacementFunction"}
    assert properties["Principal"] == "events.amazonaws.com" and properties["Action"] == "lambda:InvokeFunction"
    assert properties["SourceAccount"] == {"Ref": "AWS::AccountId"}
    own_rules = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/rvr-*"
    assert properties["SourceArn"] == {"Fn::Sub": own_rules}
    for statement in statements(template):
        assert not any(a.startswith("lambda:") for a in as_list(statement["Action"]))
