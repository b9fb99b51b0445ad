"""The local run of a project: `liminal run` (real Airflow, `dag.test()`) and `liminal serve`."""
