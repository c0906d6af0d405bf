from mutualaid.models import Commitment, ResourceRequest


def test_world_builds(aw):
    assert ResourceRequest.objects.count() == 3
    assert Commitment.objects.get().quantity == 4
