"""MWAA's requirements.txt: the constraints of the Airflow version on MWAA's Python."""

import pytest

from liminal_pulumi import defaults
from liminal_pulumi.plans.mwaa_requirements import constraints_url, requirements_txt


# MWAA's Python per Airflow version (MWAA FAQ, "What Python version can I use?"): 2.11.0 runs on
# Python 3.12, not 3.11 as 2.10 did, so its providers resolve against constraints-3.12.txt.
@pytest.mark.parametrize(
    ("airflow", "constraints"),
    [
        ("2.10.3", "constraints-2.10.3/constraints-3.11.txt"),
        ("2.11.0", "constraints-2.11.0/constraints-3.12.txt"),
        ("3.0.6", "constraints-3.0.6/constraints-3.12.txt"),
    ],
)
def test_requirements_start_with_the_constraints_of_mwaas_python(airflow, constraints):
    url = f"https://raw.githubusercontent.com/apache/airflow/{constraints}"
    assert constraints_url(airflow) == url
    assert requirements_txt(airflow).splitlines()[0] == f'--constraint "{url}"'


def test_every_airflow_version_the_settings_accept_has_mwaas_python():
    for version in defaults.SUPPORTED_AIRFLOW_VERSIONS:
        assert defaults.MWAA_PYTHON_BY_AIRFLOW_VERSION[version] == "3.12", version


def test_requirements_list_the_provider_the_loader_imports_unpinned():
    lines = requirements_txt("3.0.6").splitlines()
    assert "apache-airflow-providers-cncf-kubernetes" in lines
    # Versions come from the constraints file, never from a second pin here.
    assert all("==" not in line for line in lines[1:])


def test_requirements_change_with_the_airflow_version():
    assert requirements_txt("2.11.0") != requirements_txt("3.0.6")


def test_an_airflow_version_mwaa_does_not_offer_is_refused():
    with pytest.raises(ValueError, match="'9.9.9' is not offered by MWAA"):
        requirements_txt("9.9.9")
