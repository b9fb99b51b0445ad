"""Run a user's Pulumi program folder under the shipped mocks and print what it registered.

Usage: python run_under_mocks.py PROGRAM_DIR LIMINAL_PROJECT. Prints one JSON object:
`{"resources": [[type, name, urn], ...], "outputs": {...}}`; exits 1 with the error otherwise.
"""

import json
import os
import runpy
import sys

import pulumi

from liminal_pulumi.testing import install, resolve, run  # the mock cloud the wheel ships

program, project = sys.argv[1], sys.argv[2]
mocks = install(project="team", stack="dev", config={"liminal:project": project})
os.chdir(os.path.dirname(os.path.abspath(program)))  # as the Pulumi CLI: from the project folder
run(lambda: runpy.run_path(program, run_name="__main__"))
stack = pulumi.runtime.settings.get_root_resource()
outputs = {k: resolve(v) for k, v in sorted((getattr(stack, "outputs", None) or {}).items())}
resources = [[r.type, r.name, r.urn] for r in mocks.registrations()]
print(json.dumps({"resources": resources, "outputs": outputs}, default=str))
