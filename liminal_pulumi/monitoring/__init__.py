"""Monitoring of served models: drift checks (`drift`, needs the `monitoring` extra), the
drift pipeline's plan (`drift_plan`) and the `liminal monitor` summary (`summary`)."""
