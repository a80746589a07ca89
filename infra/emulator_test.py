"""Deploys infra/template.yaml without its Lambda functions (DeployFunctions=false) to the local
emulator and checks what it made: the topics' key and its policy, the alarm topic and its policy,
the continuation topic and its policy, both topics encrypted under the key, the dead-letter queue
(SQS-managed encryption) and its policy, the schedule rule and its expression (also after an update to a
cron expression), the roles' policies, the log groups, the stack's own alarm and the dashboard;
then deletes the stack and checks that nothing is left. Last, the template as a StackSet deploys
it: two stack instances in two regions of one account, with one set of parameters.

Run by scripts/test-infra with the emulator's Python (boto3 comes with LocalStack). Prints one
line per check and a closing `N passed, N failed` line; exits 1 if anything failed.
"""

import json
import os
import sys
import time
import uuid

import boto3
import botocore.config
from botocore.exceptions import ClientError, WaiterError

ENDPOINT = os.environ.get("EMULATOR_ENDPOINT", "http://127.0.0.1:4566")
REGION = "us-east-1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = open(os.path.join(ROOT, "infra", "template.yaml")).read()
STACK = "kas-infra-test-" + uuid.uuid4().hex[:6]

results = {"passed": 0, "failed": 0, "skipped": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}", flush=True)
    return ok


def skip(name, why):
    results["skipped"] += 1
    print(f"skip {name}: {why}", flush=True)


def client(service):
    return region_client(service, REGION)


def region_client(service, region):
    config = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=120)
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


cfn, sns, sqs, events, iam, logs, cw, kms = (
    client(s) for s in ("cloudformation", "sns", "sqs", "events", "iam", "logs", "cloudwatch", "kms")
)


def params(**overrides):
    values = {
        "CodeBucket": "not-used-without-functions",
        "CodeVersion": "test",
        "DeployFunctions": "false",
    }
    values.update(overrides)
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def failures(stack):
    return [
        f"{ev['LogicalResourceId']}: {ev.get('ResourceStatusReason', '')}"
        for ev in cfn.describe_stack_events(StackName=stack)["StackEvents"]
        if ev["ResourceStatus"].endswith("FAILED")
    ]


def wait(waiter_name, stack=STACK):
    try:
        cfn.get_waiter(waiter_name).wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
        return True, ""
    except WaiterError as e:
        return False, f"{e}; {failures(stack)[:5]}"


def create(stack, **overrides):
    """Creates `stack` (its resources named after it, its own alarm topic name) and waits: (created,
    why not)."""
    overrides.setdefault("Name", stack)
    overrides.setdefault("AlarmTopicName", stack + "-alarms")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=TEMPLATE,
        Parameters=params(**overrides),
        Capabilities=["CAPABILITY_IAM"],
    )
    return wait("stack_create_complete", stack)


def outputs():
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def physical(logical_id):
    return cfn.describe_stack_resource(StackName=STACK, LogicalResourceId=logical_id)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]


def statements(doc):
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return doc["Statement"]


def main():
    started = time.monotonic()
    print(f"test-infra: deploying stack {STACK} (DeployFunctions=false) to {ENDPOINT}")

    # A schedule expression the parameter's pattern forbids must not deploy. AWS refuses it at
    # CreateStack (AllowedPattern); the emulator does not check AllowedPattern (scripts/lint-infra
    # does), so there EventBridge's own validation fails the stack instead. Either is a refusal.
    bad = STACK + "-bad"
    try:
        ok, why = create(bad, ScaleDownSchedule="rate(36 hour)")
        reasons = failures(bad)
        check(
            "rate(36 hour) is refused (emulator: EventBridge fails the schedule rule)",
            not ok and any(r.startswith("ScaleDownRule:") for r in reasons),
            why,
        )
        cfn.delete_stack(StackName=bad)
        wait("stack_delete_complete", bad)
    except ClientError as e:
        check("rate(36 hour) is refused (AllowedPattern at CreateStack)", "ValidationError" in str(e), e)

    ok, why = create(STACK, StreamNamePrefix="orders-")
    if not check("stack reaches CREATE_COMPLETE", ok, why):
        return
    out = outputs()
    check(
        "outputs name the alarm topic, queue, continuation topic and rule; no function outputs",
        {"AlarmTopicArn", "DeadLetterQueueUrl", "DeadLetterQueueArn", "ContinuationTopicArn",
         "ScaleDownRuleName", "DashboardName"} <= set(out)
        and "ScaleUpFunctionName" not in out,
        sorted(out),
    )
    resources = {
        r["LogicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    }
    check(
        "no function, subscription, permission or invoke config without DeployFunctions",
        not any(r.startswith(("ScaleUpFunction", "ScaleDownFunction", "ScaleUpSubscription",
                              "ScaleUpInvoke", "ScaleDownInvoke", "ScaleDownContinuation"))
                for r in resources),
        sorted(resources),
    )

    # The alarm topic: named as streams.yaml expects, publishable only by this account's alarms.
    topic = out["AlarmTopicArn"]
    check("alarm topic is named by AlarmTopicName", topic.endswith(":" + STACK + "-alarms"), topic)
    policy = sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("Policy", "{}")
    publish = [s for s in statements(policy)
               if s.get("Action") in ("sns:Publish", ["sns:Publish"]) and s["Effect"] == "Allow"]
    check(
        "alarm topic policy: one Allow sns:Publish for cloudwatch.amazonaws.com only",
        len(publish) == 1
        and publish[0]["Effect"] == "Allow"
        and publish[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"},
        policy,
    )
    cond = publish[0].get("Condition", {}) if publish else {}
    account = topic.split(":")[4]
    check(
        "alarm topic policy: aws:SourceAccount is this account, aws:SourceArn the tool's alarms",
        cond.get("StringEquals", {}).get("aws:SourceAccount") == account
        and cond.get("ArnLike", {}).get("aws:SourceArn")
        == f"arn:aws:cloudwatch:{REGION}:{account}:alarm:kinesis-autoscaler-*",
        cond,
    )

    insecure = {"Bool": {"aws:SecureTransport": "false"}}
    check(
        "alarm topic policy: publishing without TLS is denied to everyone",
        any(s["Effect"] == "Deny" and s.get("Principal") in ("*", {"AWS": "*"}) and s.get("Condition") == insecure
            for s in statements(policy)),
        policy,
    )

    # The topics' key: customer-managed, rotated, usable by CloudWatch alarms; both topics under it.
    key_id = physical("TopicKey")
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    check("topic key is a customer-managed, enabled key", key.get("KeyManager") == "CUSTOMER"
          and key.get("KeyState") == "Enabled", key)
    check("topic key rotates", kms.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled") is True)
    key_policy = statements(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    cloudwatch_use = [s for s in key_policy if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    check(
        "key policy: CloudWatch may kms:Decrypt and kms:GenerateDataKey* (alarms publish to encrypted topics)",
        len(cloudwatch_use) == 1 and sorted(cloudwatch_use[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"],
        key_policy,
    )
    for name, arn in (("alarm", topic), ("continuation", out["ContinuationTopicArn"])):
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        check(f"{name} topic is encrypted under the topic key",
              attributes.get("KmsMasterKeyId") in (key["KeyId"], key["Arn"]), attributes.get("KmsMasterKeyId"))

    # The continuation topic: only the scale-down role publishes, over TLS.
    continuation = statements(sns.get_topic_attributes(TopicArn=out["ContinuationTopicArn"])["Attributes"]
                              .get("Policy", '{"Statement": []}'))
    by = {s.get("Sid"): s for s in continuation}
    down_role_arn = iam.get_role(RoleName=physical("ScaleDownRole"))["Role"]["Arn"]
    check(
        "continuation topic policy: the scale-down role may publish, everyone else is denied, TLS only",
        by.get("ScaleDownFunctionOnly", {}).get("Principal") == {"AWS": down_role_arn}
        and by.get("DenyEveryoneElse", {}).get("Condition") == {"ArnNotEquals": {"aws:PrincipalArn": down_role_arn}}
        and by.get("DenyInsecureTransport", {}).get("Condition") == insecure,
        continuation,
    )

    # The dead-letter queue and who may write to it.
    queue_url = out["DeadLetterQueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    check("dead-letter queue keeps messages 14 days", attrs.get("MessageRetentionPeriod") == "1209600", attrs)
    check("dead-letter queue is encrypted with SQS-managed keys", attrs.get("SqsManagedSseEnabled") == "true", attrs)
    queue_policy = statements(attrs.get("Policy", '{"Statement": []}'))
    check(
        "dead-letter queue policy lets only SNS, from the stack's two topics, send",
        len(queue_policy) == 1
        and queue_policy[0]["Principal"] == {"Service": "sns.amazonaws.com"}
        and sorted(queue_policy[0]["Condition"]["ArnEquals"]["aws:SourceArn"])
        == sorted([topic, out["ContinuationTopicArn"]]),
        queue_policy,
    )

    # The schedule: the default expression, and an update to a cron expression.
    rule = events.describe_rule(Name=out["ScaleDownRuleName"])
    check("schedule rule runs rate(36 hours) by default", rule.get("ScheduleExpression") == "rate(36 hours)", rule)
    check("schedule rule is enabled", rule.get("State") == "ENABLED", rule.get("State"))

    # Roles: scoped to the stream prefix, the tool's alarm prefix, the continuation topic.
    up_role = physical("ScaleUpRole")
    down_role = physical("ScaleDownRole")
    up = iam.get_role_policy(RoleName=up_role, PolicyName="scale-up")["PolicyDocument"]
    down = iam.get_role_policy(RoleName=down_role, PolicyName="scale-down")["PolicyDocument"]
    by_sid = lambda doc: {s["Sid"]: s for s in statements(doc)}  # noqa: E731
    up, down = by_sid(up), by_sid(down)
    stream_arn = f"arn:aws:kinesis:{REGION}:{account}:stream/orders-*"
    check(
        "scale-up role: split/update/monitor only on orders-* streams with the policy tag",
        up["ReshardManagedStreams"]["Resource"] == stream_arn
        and sorted(up["ReshardManagedStreams"]["Action"])
        == ["kinesis:EnableEnhancedMonitoring", "kinesis:SplitShard", "kinesis:UpdateShardCount"]
        and up["ReshardManagedStreams"]["Condition"]
        == {"Null": {"aws:ResourceTag/kinesis-autoscaler/policy": "false"}},
        up["ReshardManagedStreams"],
    )
    check(
        "scale-up role: alarm writes only under kinesis-autoscaler-orders-",
        up["RearmAlarms"]["Resource"].endswith(":alarm:kinesis-autoscaler-orders-*"),
        up["RearmAlarms"],
    )
    for role, doc in (("scale-up", up), ("scale-down", down)):
        put = doc.get("WriteAlarmsNotifyingTheAlarmTopic", {})
        check(
            f"{role} role: PutMetricAlarm only under kinesis-autoscaler-orders-, alarm actions pinned to the alarm topic",
            put.get("Action") == "cloudwatch:PutMetricAlarm"
            and put.get("Resource", "").endswith(":alarm:kinesis-autoscaler-orders-*")
            and put.get("Condition") == {"ForAllValues:StringLike": {"cloudwatch:AlarmActions": topic}},
            put,
        )
        record = doc.get("RecordScalingState", {})
        check(
            f"{role} role: AddTagsToStream only of state tags, on orders-* streams with the policy tag",
            record.get("Action") == "kinesis:AddTagsToStream"
            and record.get("Resource") == stream_arn
            and record.get("Condition") == {
                "ForAllValues:StringLike": {"aws:TagKeys": "kinesis-autoscaler/state-*"},
                "Null": {"aws:ResourceTag/kinesis-autoscaler/policy": "false"},
            },
            record,
        )
    check(
        "scale-down role: the topic key only through SNS, for the encrypted continuation topic",
        sorted(down.get("ContinueEncrypted", {}).get("Action", [])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        and down["ContinueEncrypted"].get("Resource") == key["Arn"]
        and down["ContinueEncrypted"].get("Condition")
        == {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}},
        down.get("ContinueEncrypted"),
    )
    check("scale-up role: no use of the topic key (it publishes nothing)",
          not any(a.startswith("kms:") for s in up.values()
                  for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])), up)
    check(
        "scale-down role: merges, publishes only to the continuation topic, no split",
        "kinesis:MergeShards" in down["ReshardManagedStreams"]["Action"]
        and "kinesis:SplitShard" not in down["ReshardManagedStreams"]["Action"]
        and down["Continue"]["Resource"] == out["ContinuationTopicArn"],
        down,
    )
    state_tags_only = {"ForAllValues:StringLike": {"aws:TagKeys": "kinesis-autoscaler/state-*"}}
    for role, doc in (("scale-up", up), ("scale-down", down)):
        forget = doc.get("ForgetExpiredScalingState", {})
        check(
            f"{role} role: removes only its own state tags, on orders-* streams",
            forget.get("Action") == "kinesis:RemoveTagsFromStream"
            and forget.get("Resource") == stream_arn
            and forget.get("Condition") == state_tags_only,
            forget,
        )
    everything = [a for doc in (up, down) for sid, s in doc.items() if sid != "ForgetExpiredScalingState"
                  for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    check(
        "neither role may delete or create streams, remove other tags, write metrics, or use wildcards",
        not any(a.split(":")[1].startswith(("Delete", "Create", "PutMetricData", "RemoveTags"))
                or a.endswith(":*")
                for a in everything if a not in ("logs:CreateLogStream", "cloudwatch:DeleteAlarms")),
        everything,
    )

    # Log groups with retention, named for the functions.
    for fn in ("scale-up", "scale-down"):
        name = f"/aws/lambda/{STACK}-{fn}"
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        if not check(f"log group {name} exists", len(groups) == 1, groups):
            continue
        if groups[0].get("retentionInDays") is None:
            # The emulator's CloudFormation provider for log groups ignores RetentionInDays.
            skip(f"log group {name} retention", "the emulator's CloudFormation does not apply RetentionInDays")
        else:
            check(f"log group {name} keeps 30 days", groups[0]["retentionInDays"] == 30, groups)

    # The stack's own alarm, outside the tool's prefix that `streams apply` prunes.
    alarms = cw.describe_alarms(AlarmNamePrefix=f"KinesisAutoscaler-{STACK}-")["MetricAlarms"]
    check(
        "dead-letter alarm exists, outside the kinesis-autoscaler- prefix",
        [a["AlarmName"] for a in alarms] == [f"KinesisAutoscaler-{STACK}-DeadLetters"],
        [a["AlarmName"] for a in alarms],
    )
    check(
        "no stack alarm under the kinesis-autoscaler- prefix",
        not cw.describe_alarms(AlarmNamePrefix="kinesis-autoscaler-" + STACK)["MetricAlarms"],
    )
    try:
        body = json.loads(cw.get_dashboard(DashboardName=out["DashboardName"])["DashboardBody"])
        check("dashboard exists with its widgets", len(body.get("widgets", [])) == 5, body)
    except ClientError as e:
        skip("dashboard", f"the emulator's CloudFormation does not create it ({e.response['Error']['Code']})")

    # A cron schedule. (Created afresh: the emulator's CloudFormation reports an update of the
    # rule complete without applying it, its Events::Rule provider has no update.)
    cron = STACK + "-cron"
    ok, why = create(cron, ScaleDownSchedule="cron(0 3 * * ? *)")
    if check("a stack with a cron schedule reaches CREATE_COMPLETE", ok, why):
        rule = events.describe_rule(Name=f"{cron}-scale-down")
        check("its rule runs cron(0 3 * * ? *)", rule.get("ScheduleExpression") == "cron(0 3 * * ? *)", rule)
    cfn.delete_stack(StackName=cron)
    wait("stack_delete_complete", cron)

    # Uninstall: nothing of the stack is left.
    cfn.delete_stack(StackName=STACK)
    ok, why = wait("stack_delete_complete")
    check("stack deletes (DELETE_COMPLETE)", ok, why)
    left = []
    if any(t["TopicArn"] == topic for t in sns.list_topics()["Topics"]):
        left.append(topic)
    if sqs.list_queues(QueueNamePrefix=f"{STACK}-").get("QueueUrls"):
        left.append("queue")
    if logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{STACK}-")["logGroups"]:
        left.append("log groups")
    if cw.describe_alarms(AlarmNamePrefix=f"KinesisAutoscaler-{STACK}-")["MetricAlarms"]:
        left.append("alarm")
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    if state != "PendingDeletion":
        left.append(f"topic key ({state}, not PendingDeletion)")
    check("nothing of the stack is left after deletion", not left, left)

    stack_instances()
    print(f"test-infra: {time.monotonic() - started:.1f} s")


# The regions of the StackSet test: stack instances in one account, as a StackSet deploys them.
INSTANCE_REGIONS = ("us-east-1", "eu-west-1")


def stack_instances():
    """The template as a service-managed StackSet deploys it to one account: a stack per region,
    named StackSet-<set>-<id>, all with the StackSet's one set of parameter values.

    The emulator's CreateStackInstances ignores the StackSet's parameters (and takes accounts, not
    organizational units), so this makes what it would: the same template and parameters as
    CreateStack in each region, under a StackSet instance's name."""
    name = "kas-ss-" + uuid.uuid4().hex[:6]
    values = {"Name": name, "AlarmTopicName": name + "-alarms", "CodeBucket": "acme-lambda-code",
              "CodeBucketRegionSuffix": "true", "CodeVersion": "v-test", "DeployFunctions": "false"}
    print(f"test-infra: two stack instances of StackSet {name} in {', '.join(INSTANCE_REGIONS)}")
    clients = {r: (region_client("cloudformation", r), region_client("iam", r), region_client("events", r),
                   region_client("sqs", r)) for r in INSTANCE_REGIONS}
    stacks = {r: f"StackSet-{name}-{uuid.uuid4()}" for r in INSTANCE_REGIONS}
    for region, stack in stacks.items():
        clients[region][0].create_stack(
            StackName=stack, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
    outs, roles = {}, {}
    for region, stack in stacks.items():
        region_cfn = clients[region][0]
        try:
            region_cfn.get_waiter("stack_create_complete").wait(
                StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
            ok, why = True, ""
        except WaiterError as e:
            ok, why = False, str(e)
        if not check(f"stack instance in {region} ({len(stack)}-character stack name) reaches CREATE_COMPLETE",
                     ok, why):
            continue
        described = region_cfn.describe_stacks(StackName=stack)["Stacks"][0]
        outs[region] = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        roles[region] = {r["PhysicalResourceId"] for r in region_cfn.describe_stack_resources(StackName=stack)[
            "StackResources"] if r["ResourceType"] == "AWS::IAM::Role"}
    if len(outs) == len(INSTANCE_REGIONS):
        account = outs[INSTANCE_REGIONS[0]]["AlarmTopicArn"].split(":")[4]
        for region, out in outs.items():
            check(f"{region}: AlarmTopicArn is the region's own topic, as streams.yaml names it",
                  out.get("AlarmTopicArn") == f"arn:aws:sns:{region}:{account}:{name}-alarms", out)
            check(f"{region}: CodeLocation is the region's bucket <CodeBucket>-<region>",
                  out.get("CodeLocation") == f"s3://acme-lambda-code-{region}/kinesis-autoscaler/v-test/", out)
            if out.get("DashboardName") == "unknown":
                skip(f"{region}: the dashboard's name", "the emulator's CloudFormation does not create "
                     "dashboards (scripts/lint-infra checks the name carries the region)")
            else:
                check(f"{region}: the dashboard (a global name) carries the region",
                      out.get("DashboardName") == f"KinesisAutoscaler-{name}-{region}", out)
            rule = clients[region][2].describe_rule(Name=f"{name}-scale-down")
            check(f"{region}: the schedule rule has the same name in each region", rule.get("Name") == f"{name}-scale-down")
            urls = clients[region][3].list_queues(QueueNamePrefix=f"{name}-").get("QueueUrls", [])
            check(f"{region}: one dead-letter queue of the same name in each region", len(urls) == 1, urls)
        first, second = (roles[r] for r in INSTANCE_REGIONS)
        check("the roles (IAM names are global) of the two instances differ, four in all",
              len(first) == 2 and len(second) == 2 and not first & second, roles)
        iam_client = clients[INSTANCE_REGIONS[0]][1]
        check("all four roles exist in the account",
              all(iam_client.get_role(RoleName=r)["Role"] for r in first | second))
    for region, stack in stacks.items():
        clients[region][0].delete_stack(StackName=stack)
    for region, stack in stacks.items():
        try:
            clients[region][0].get_waiter("stack_delete_complete").wait(
                StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
            check(f"stack instance in {region} deletes", True)
        except WaiterError as e:
            check(f"stack instance in {region} deletes", False, e)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # an unexpected error is a failed check, reported as such
        check("the test ran to the end", False, repr(e))
    print(f"{results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    sys.exit(1 if results["failed"] else 0)
