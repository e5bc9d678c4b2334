"""Hypothesis fuzzing of the iptables-save format: any text either parses or is one `error` line naming the file
and line; it never raises anything else, never hangs, and what parses verifies or fails without a traceback."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.errors import InputError
from spec.proxy.manifests import load_cluster
from spec.proxy.parse import decode, parse_dump
from spec.proxy.verify import verify
from tests.proxy.conftest import FIXTURES, UPSTREAM_TEST_OPTIONS

WORDS = ["-A", "-I", "-N", "-P", "-F", "-X", "!", "-s", "-d", "-p", "-i", "-o", "-m", "-j", "-g", "--dport",
         "--sport", "--mark", "--ctstate", "--state", "--comment", "--probability", "--mode", "--to-destination",
         "--set-xmark", "--or-mark", "--name", "--rcheck", "--set", "--seconds", "--reap", "--match-set",
         "tcp", "udp", "sctp", "icmp", "all", "comment", "mark", "conntrack", "statistic", "recent", "addrtype",
         "multiport", "physdev", "set", "random", "LOCAL", "NEW", "DNAT", "INVALID", "BANANA", "ACCEPT", "DROP",
         "REJECT", "RETURN", "MARK", "DNAT", "SNAT", "MASQUERADE", "LOG", "X", "Y", "KUBE-SERVICES", "PREROUTING",
         "FORWARD", "0x4000", "0x4000/0x4000", "0x1ffffffffff", "10.0.0.0/8", "1.2.3.4", "1.2.3.999", "80",
         "80:90", "99999", "0.5", "1.5", "-0.5", "1e-9", '"a b"', '"unterminated', "\\", "+", "eth0", "cni+",
         "10.1.1.1:80", "[0:0]", "\x00", "é", "\u202e"]
LINES = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join),
    st.sampled_from(["*nat", "*filter", "*mangle", "*raw", "*bogus", "COMMIT", ":X - [0:0]", ":Y - [0:0]",
                     ":INPUT ACCEPT [0:0]", ":INPUT MAYBE [0:0]", ":PREROUTING DROP [1:2]", "# comment", ""]),
    st.text(max_size=40),
)
DUMPS = st.lists(LINES, max_size=25).map("\n".join)


def _check_error(exc: InputError, source: str) -> None:
    text = str(exc)
    assert "\n" not in text and text.endswith(")") and f"({source}:" in text, text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DUMPS)
def test_any_text_parses_or_is_one_error_line(text):
    try:
        parse_dump(text, "fuzz.save")
    except InputError as exc:
        _check_error(exc, "fuzz.save")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_one_error_line(data):
    try:
        parse_dump(decode(data, "fuzz.bin"), "fuzz.bin")
    except InputError as exc:
        _check_error(exc, "fuzz.bin")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=6))
def test_rules_added_to_a_real_dump_verify_or_fail_cleanly(extra):
    """Lines spliced into generated rules: the verifier answers (any verdict) or reports bad input."""
    base = (FIXTURES / "overall.expected").read_text()
    text = base.replace("COMMIT\n", "\n".join(extra) + "\nCOMMIT\n", 1)
    try:
        dump = parse_dump(text, "spliced.save")
    except InputError as exc:
        _check_error(exc, "spliced.save")
        return
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    try:
        verify(cluster, UPSTREAM_TEST_OPTIONS, dump)
    except InputError as exc:
        assert "\n" not in str(exc)
