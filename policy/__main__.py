"""The liminal security baseline, as a Pulumi policy pack.

    pulumi preview --policy-pack policy --policy-pack-config policy/config.<env>.json

Mandatory in prod (and staging), advisory in dev: see liminal_policy/enforcement.py.
"""

import os

from liminal_policy.enforcement import STACK_ENV, environment_of_stack
from liminal_policy.pack import build_policies
from pulumi_policy import PolicyPack

PolicyPack(
    name="liminal-aws-baseline",
    policies=build_policies(environment_of_stack(os.environ.get(STACK_ENV))),
)
