"""liminal.yml pipelines as Airflow DAGs: the compiled project, DAG plans, operators, the loader.

`liminal_pulumi.airflow.loader.register(globals())` is what a DAGs-folder file calls (see
`dags/liminal_dags.py`).
"""
