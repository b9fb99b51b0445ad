"""The liminal.yml DSL: located YAML, discovery, super/sub merging, validation, the model.

Data flows one way: liminal.yml -> `loader.load_project` -> `model.Project`, which every consumer
(`liminal_pulumi.airflow`, `.local`, `.serving` via `.build`, `.components`) reads. This
subpackage imports none of them.
"""
