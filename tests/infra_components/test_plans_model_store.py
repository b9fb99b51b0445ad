import pytest

from liminal_pulumi import defaults
from liminal_pulumi.dsl.model import Volume
from liminal_pulumi.plans.model_store_plan import dns_label, plan_volumes


def test_each_volume_gets_its_claim_its_own_directory_and_a_namespaced_volume():
    plans = plan_volumes(
        [Volume(volume="models", claim_name="models-pvc"), Volume(volume="Data_Set")],
        "liminal",
    )
    by_volume = {p.volume: p for p in plans}
    assert by_volume["models"].claim_name == "models-pvc"
    assert by_volume["models"].persistent_volume_name == "liminal-models-pvc"
    assert by_volume["models"].root_directory == f"{defaults.EFS_ROOT_DIRECTORY}/models"
    assert by_volume["Data_Set"].claim_name == "data-set"
    assert by_volume["Data_Set"].root_directory == f"{defaults.EFS_ROOT_DIRECTORY}/data-set"
    assert all(p.root_directory != "/" for p in plans)
    assert len({p.root_directory for p in plans}) == 2


def test_a_volume_without_claim_name_is_claimed_by_its_name():
    (plan,) = plan_volumes([Volume(volume="gettingstartedvol-pvc")], "ns")
    assert plan.claim_name == "gettingstartedvol-pvc"


def test_two_volumes_on_one_claim_are_refused():
    with pytest.raises(ValueError, match="both use claim 'shared'"):
        plan_volumes(
            [Volume(volume="a", claim_name="shared"), Volume(volume="b", claim_name="shared")],
            "ns",
        )


def test_a_claim_name_kubernetes_refuses_is_reported():
    with pytest.raises(ValueError, match="volume 'v': claim name 'Not_Valid'"):
        plan_volumes([Volume(volume="v", claim_name="Not_Valid")], "ns")


def test_dns_label_is_short_and_clean():
    label = dns_label("A" * 40 + "__" + "b" * 40)
    assert len(label) <= 63
    assert label == label.lower().strip("-")
    with pytest.raises(ValueError):
        dns_label("___")
