"""The liminal security baseline as Pulumi policies.

Each module checks one kind of AWS resource with pure functions over resource inputs (the camelCase
property names the policy engine sees); `pack` turns them into `pulumi_policy` policies and
`enforcement` decides how strictly they apply to a stack.
"""
