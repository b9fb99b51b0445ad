"""Run a user's Pulumi program folder under the shipped mocks and print what it registered.

Usage: python run_under_mocks.py PROGRAM_DIR LIMINAL_PROJECT. Prints one JSON object:
`{"resources": [[type, name, urn], ...], "outputs": {...}}`; exits 1 with the error otherwise.
"""

import json
import os
import runpy
import sys

import pulumi
from pulumi.runtime import config as runtime_config

# TODO(issue 9, i9-plan): switch to the mocks shipped in the package once `liminal_pulumi.testing`
# lands on main (branch i9-plan); until then the test copies tests/pulumi_mocks.py beside this file.
from pulumi_mocks import install, resolve, run

program, project = sys.argv[1], sys.argv[2]
mocks = install(project="team", stack="dev")
runtime_config.set_all_config({"liminal:project": project}, [])
os.chdir(os.path.dirname(os.path.abspath(program)))  # as the Pulumi CLI: from the project folder
run(lambda: runpy.run_path(program, run_name="__main__"))
stack = pulumi.runtime.settings.get_root_resource()
outputs = {k: resolve(v) for k, v in sorted((getattr(stack, "outputs", None) or {}).items())}
resources = [[r.type, r.name, r.urn] for r in mocks.registrations()]
print(json.dumps({"resources": resources, "outputs": outputs}, default=str))
