from pathlib import Path

import pytest

from spec.proxy.manifests import load_cluster
from spec.proxy.model import Cluster, ProxierOptions

FIXTURES = Path(__file__).parent / "fixtures"

# The settings of upstream's NewFakeProxier (pkg/proxy/iptables/proxier_test.go).
UPSTREAM_TEST_OPTIONS = ProxierOptions(
    node_name="test-node", node_ips=("192.168.0.2",), cluster_cidr="10.0.0.0/8", masquerade_mark="0x4000",
    localhost_nodeports=True, nfacct=True, random_fully=False,
)


@pytest.fixture
def overall() -> Cluster:
    return load_cluster([str(FIXTURES / "overall.yaml")])
