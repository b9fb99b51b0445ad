"""liminal on Pulumi: liminal.yml workflows on Airflow, served models, and their AWS platform."""

__version__ = "0.1.0"
