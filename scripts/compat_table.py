#!/usr/bin/env python3
"""The table of every ECR operation of botocore's model and what berth does with it.

docs/compatibility.md carries the table between the markers below. An operation is
"implemented" when src/ecr/ops.c's table has it; every other one answers
UnsupportedOperationException, and NOT_YET says why. Run

    python3 scripts/compat_table.py          # rewrite the table in the document
    python3 scripts/compat_table.py --check  # fail when the document is out of date (make test)
"""

import gzip
import json
import os
import re
import sys

import botocore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "compatibility.md")
OPS = os.path.join(ROOT, "src", "ecr", "ops.c")
BEGIN, END = "<!-- ecr-operations:begin -->", "<!-- ecr-operations:end -->"

# Why an operation of the model is not implemented yet (every one needs a reason).
NOT_YET = {
    "replication": "replication to other regions or accounts: later work",
    "pull-through": "pull-through cache rules: later work (needs outbound registry access)",
    "templates": "repository creation templates: later work (used by replication and pull-through cache)",
    "signing": "image signing (AWS Signer): no signing service here",
}
GROUP = {
    "PutReplicationConfiguration": "replication", "DescribeImageReplicationStatus": "replication",
    "CreatePullThroughCacheRule": "pull-through", "DeletePullThroughCacheRule": "pull-through",
    "DescribePullThroughCacheRules": "pull-through", "UpdatePullThroughCacheRule": "pull-through",
    "ValidatePullThroughCacheRule": "pull-through",
    "CreateRepositoryCreationTemplate": "templates", "DeleteRepositoryCreationTemplate": "templates",
    "DescribeRepositoryCreationTemplates": "templates", "UpdateRepositoryCreationTemplate": "templates",
    "PutSigningConfiguration": "signing", "GetSigningConfiguration": "signing",
    "DeleteSigningConfiguration": "signing", "DescribeImageSigningStatus": "signing",
}


def model_operations():
    path = os.path.join(os.path.dirname(botocore.__file__), "data", "ecr", "2015-09-21", "service-2.json.gz")
    with gzip.open(path) as f:
        return sorted(json.load(f)["operations"])


def implemented():
    with open(OPS) as f:
        return set(re.findall(r'^\s*\{"(\w+)", op_\w+,', f.read(), re.M))


def table():
    done = implemented()
    rows = ["| operation | status |", "| --- | --- |"]
    missing = []
    for op in model_operations():
        if op in done:
            rows.append(f"| {op} | implemented |")
        elif op in GROUP:
            rows.append(f"| {op} | not yet: {NOT_YET[GROUP[op]]} (`UnsupportedOperationException`) |")
        else:
            missing.append(op)
    if missing:
        sys.exit("operations neither implemented nor explained in NOT_YET: " + ", ".join(missing))
    return "\n".join(rows)


def main():
    with open(DOC) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"{DOC} has no {BEGIN} ... {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{table()}\n{END}{tail}"
    if "--check" in sys.argv[1:]:
        if new != doc:
            sys.exit("docs/compatibility.md's operation table is out of date: run python3 scripts/compat_table.py")
        return
    with open(DOC, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
