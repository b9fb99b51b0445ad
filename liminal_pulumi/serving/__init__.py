"""The model server: a Flask app for a python_server image, run under gunicorn.

It imports only `liminal_pulumi.serving`, `liminal_pulumi.defaults` and the model's endpoint and
service types (`liminal_pulumi.dsl.model`), so an image copies just those modules.
`python -m liminal_pulumi.serving` starts it.
"""
