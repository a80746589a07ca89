"""Checks that infra/template.yaml deploys as many stack instances at once: a StackSet puts one
in every region of every target account, named StackSet-<set name>-<id>.

For every resource the template names explicitly:
- the name fits its service's length limit with the longest values it can be given (Name and
  AlarmTopicName at their maximum, the longest region name, a StackSet instance's stack name);
- a regional name carries Name (or is a parameter of its own), so two stacks in one region differ
  by setting Name;
- a global name (IAM, CloudWatch dashboards) carries the region, or the resource is left for
  CloudFormation to name.
Run by scripts/lint-infra with the tools' Python (cfn-lint's decoder). Prints one line per check and
exits 1 on any failure.
"""

import re
import sys

from cfnlint.decode import decode

TEMPLATE = sys.argv[1] if len(sys.argv) > 1 else "infra/template.yaml"

# Each type's name property and its limit (each service's API reference). Global types (no region
# in their ARN) must carry the region in their name, or leave the naming to CloudFormation.
NAMES = {
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::Events::Rule": ("Name", 64),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::CloudWatch::Alarm": ("AlarmName", 255),
    "AWS::CloudWatch::Dashboard": ("DashboardName", 255),
    "AWS::IAM::Role": ("RoleName", 64),
}
GLOBAL = {"AWS::IAM::Role", "AWS::CloudWatch::Dashboard"}
# Types that take no name of their own: a new resource type must join one of the two lists.
UNNAMED = {"AWS::KMS::Key", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription", "AWS::SQS::QueuePolicy",
           "AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig"}
# The longest values: a 40-character Name (its AllowedPattern), a StackSet instance's stack name
# (StackSet-<name>-<36-character id>), the longest region names in use (14 characters).
LONGEST = {
    "Name": "n" * 40,
    "AWS::StackName": "StackSet-kinesis-autoscaler-" + "0" * 36,
    "AWS::Region": "ap-southeast-5",
}


def render(value, parameters):
    """The longest string a name can become, or None if it is not a plain Ref/Sub of known parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return longest(value["Ref"], parameters)
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: longest(m.group(1), parameters), value["Fn::Sub"])
    return None


def longest(name, parameters):
    if name in LONGEST:
        return LONGEST[name]
    param = parameters.get(name, {})
    pattern = param.get("AllowedPattern", "")
    bound = re.search(r"\{(?:\d+,)?(\d+)\}\$$", pattern)
    return "p" * int(bound.group(1)) if bound else str(param.get("Default", name))


def main():
    template, matches = decode(TEMPLATE)
    assert not matches, matches
    parameters = template.get("Parameters", {})
    results = {"passed": 0, "failed": 0}

    def check(name, ok, detail=""):
        results["passed" if ok else "failed"] += 1
        print(f"names: {'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}")
        return ok

    for logical, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind in UNNAMED:
            continue
        if not check(f"{logical}: {kind} is known to this check", kind in NAMES, "add it to NAMES or UNNAMED"):
            continue
        prop, limit = NAMES[kind]
        value = resource.get("Properties", {}).get(prop)
        if value is None:
            check(f"{logical} is named by CloudFormation (unique by construction)", True)
            continue
        text = render(value, parameters)
        if not check(f"{logical}.{prop} is a Ref or Sub this check can read", text is not None, value):
            continue
        check(f"{logical}.{prop} fits {limit} characters at its longest ({len(text)})", len(text) <= limit, text)
        raw = value if isinstance(value, str) else str(value)
        if kind in GLOBAL:
            check(f"{logical}.{prop} is global and carries the region", "AWS::Region" in raw, raw)
        else:
            check(f"{logical}.{prop} carries Name or a name parameter of its own",
                  "${Name}" in raw or (isinstance(value, dict) and "Ref" in value), raw)
        check(f"{logical}.{prop} does not depend on the stack's name (random in a StackSet)",
              "AWS::StackName" not in raw, raw)
    print(f"names: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
