"""Airflow DAGs of the liminal.yml projects in the liminal home: liminal_pulumi.airflow.loader."""

from liminal_pulumi.airflow.loader import register

register(globals())
