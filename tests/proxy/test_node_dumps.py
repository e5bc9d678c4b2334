"""Real-node dumps: kube-proxy's rules among Docker's, flannel's, libvirt's and a masquerade agent's.

The promises are proved on kube-proxy's rules; a rule of another component that breaks one is reported as not
kube-proxy's (exit 0), or fails the verdict with --strict. Netfilter paths: a packet delivered locally from
PREROUTING passes no POSTROUTING.
"""

import re
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from spec.proxy.cli import proxy
from spec.proxy.manifests import load_cluster
from spec.proxy.model import ProxierOptions
from spec.proxy.parse import parse_dump
from spec.proxy.symbolic import OUTPUT, PREROUTING, Explorer, Pins, State, expand
from spec.proxy.verify import local_networks, verify
from tests.proxy.conftest import FIXTURES

NODE = FIXTURES / "kubeadm-flannel.yaml"
SAVE = FIXTURES / "kubeadm-flannel.save"
OPTS = ProxierOptions(node_name="worker-1", node_ips=("192.168.56.11",), cluster_cidr="10.244.0.0/16")


def _without_libvirt(text: str) -> str:
    """The dump without libvirt's filter rules (they REJECT whatever leaves through virbr0, whose routes a dump
    does not say)."""
    return "\n".join(line for line in text.splitlines() if "LIBVIRT_FW" not in line and "LIBVIRT_INP" not in line)


def _verify(text: str, strict: bool = False):
    return verify(load_cluster([str(NODE)]), OPTS, parse_dump(text, "node.save"), strict=strict)


def test_real_node_dump_verifies_and_names_foreign_rules():
    report = _verify(SAVE.read_text())
    assert report.ok and not report.violations
    assert report.foreign > 40
    # libvirt's REJECT of traffic leaving through virbr0 is reported, naming its chain and line, as not kube-proxy's.
    assert report.interference
    assert all(any("LIBVIRT_FW" in step for step in v.foreign) for v in report.interference)
    assert "-m physdev --physdev-is-bridged" in report.opaque
    assert not _verify(SAVE.read_text(), strict=True).ok


def test_cni_masquerade_is_stated_not_blamed():
    """kind's masquerade agent SNATs pod traffic to the API server's host address: not kube-proxy's doing."""
    report = _verify(_without_libvirt(SAVE.read_text()))
    assert report.ok
    masq = [v for v in report.interference if v.prop == "5 masquerade"]
    assert masq and all(v.foreign[-1].startswith("nat ") and "-j MASQUERADE" in v.foreign[-1] for v in masq)
    assert any(v.frontend.startswith("default/kubernetes") for v in masq)


def test_foreign_drop_before_kube_services_is_named():
    text = _without_libvirt(SAVE.read_text()).replace(
        '-A FORWARD -j DOCKER-USER', '-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -p udp -m udp --dport 53 -j DROP')
    text = text.replace('-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer',
                        '-A FORWARD -j DOCKER-USER\n-A FORWARD -m conntrack --ctstate NEW -m comment --comment '
                        '"kubernetes load balancer', 1)
    report = _verify(text)
    assert report.ok
    dropped = [v for v in report.interference if v.prop == "1 routing" and "dns cluster IP" in v.frontend]
    assert dropped and any("DOCKER-USER" in s and "--dport 53 -j DROP" in s for s in dropped[0].foreign)
    assert not _verify(text, strict=True).ok


def test_foreign_dnat_shadowing_a_cluster_ip_is_named():
    text = _without_libvirt(SAVE.read_text()).replace(
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 169.254.20.10:53\n'
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    report = _verify(text)
    assert report.ok
    shadowed = [v for v in report.interference if "dns cluster IP" in v.frontend]
    assert shadowed and "169.254.20.10" in shadowed[0].foreign[0]


def test_kube_proxy_rule_broken_in_a_real_dump_is_kube_proxy_s():
    text = re.sub(r"^-A KUBE-SERVICES .*kube-dns:dns cluster IP.*\n", "", SAVE.read_text(), count=1, flags=re.M)
    report = _verify(text)
    assert not report.ok and report.violations[0].prop == "1 routing"
    assert "kube-dns:dns cluster IP" in report.violations[0].frontend and not report.violations[0].foreign


def test_local_delivery_passes_no_postrouting():
    """Outside client -> NodePort 30910 -> DNAT to this node's own address: PREROUTING, then INPUT; a host
    process reaching the same endpoint goes OUTPUT -> POSTROUTING -> (loopback) INPUT."""
    text = SAVE.read_text()
    ex = Explorer(parse_dump(text), local_networks(OPTS))
    start = State(pins=Pins(dst_local=True, dport=30910, proto="tcp"))
    local = [r for m in ex.paths(PREROUTING, start) for r in expand(m) if r.state.dnat == ("192.168.56.11", 9100)]
    assert local and all(r.local and not r.masquerade for r in local)
    assert all(not any(rule.chain == "POSTROUTING" or rule.chain.startswith("FLANNEL")
                       for rule in r.state.path) for r in local)
    host = [r for m in ex.paths(OUTPUT, start) for r in expand(m)
            if r.state.dnat == ("192.168.56.11", 9100) and r.verdict == "accept"]
    assert host and all(r.local for r in host)
    chains = [rule.chain for rule in host[0].state.path]
    assert chains.index("KUBE-POSTROUTING") < max(i for i, c in enumerate(chains) if c == "INPUT")


def test_cli_nothing_to_verify_and_warnings(tmp_path):
    runner = CliRunner()
    empty = tmp_path / "empty.yaml"
    empty.write_text("kind: Node\nmetadata: {name: n}\n")
    out = runner.invoke(proxy, ["verify", "-f", str(empty)])
    assert out.exit_code == 2 and "nothing to verify" in out.output and out.output.count("\n") == 1
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--node", "ghost"])
    assert out.exit_code == 2 and "--node 'ghost'" in out.output
    mismatched = tmp_path / "m.yaml"
    mismatched.write_text(NODE.read_text().replace("{name: https, port: 6443", "{name: http, port: 6443"))
    out = runner.invoke(proxy, ["verify", "-f", str(mismatched), "--cluster-cidr", "10.244.0.0/16"])
    assert out.exit_code == 0, out.output
    assert "warning: default/kubernetes:https (TCP): its EndpointSlices' ports (http/TCP) match no port" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--kube-proxy-version", "1.9"])
    assert out.exit_code == 2 and "supported: 1.28, 1.29, 1.30, 1.31, 1.32, 1.33" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16",
                                "--iptables-save", str(SAVE), "--strict"])
    assert out.exit_code == 1 and "VIOLATED (1 routing)" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--iptables-save", str(SAVE), "--iptables-save", str(SAVE)])
    assert out.exit_code == 2 and "table mangle given twice" in out.output


def _catches(pid: int, sig: int) -> bool:
    """Whether process `pid` has a handler for `sig` (Linux: the SigCgt mask of /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    except (FileNotFoundError, ProcessLookupError):  # it has just exited: the caller's poll() says how
        return False
    return bool(mask >> (int(sig) - 1) & 1)


def test_sigterm_answers_with_a_partial_result(tmp_path):
    from benchmarks.bench_proxy import manifests

    big = tmp_path / "big.yaml"
    big.write_text(manifests(4000) + "\n---\nkind: Node\nmetadata: {name: node-0}\nstatus: {addresses: "
                   "[{type: InternalIP, address: 192.168.0.10}]}\n")
    command = [sys.executable, "-c", "from checker.cli import run; run()", "proxy", "verify", "-f", str(big),
               "--cluster-cidr", "10.0.0.0/8"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The command answers SIGTERM once its handler is installed, after Python's start and the imports: on a
    # loaded machine that took more than 4 s once, and the default action killed it (-15). So wait until the
    # kernel says the process catches SIGTERM (/proc/PID/status SigCgt), then a second more: 4,000 Services
    # take tens of seconds to verify on an idle machine (600 finished within 6 s), so the signal lands while
    # reading or verifying, whatever the machine's speed.
    deadline = time.monotonic() + 120
    while not _catches(proc.pid, signal.SIGTERM):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never installed its SIGTERM handler"
        time.sleep(0.05)
    time.sleep(1)
    assert proc.poll() is None, "the verification finished before the signal: make the input bigger"
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert proc.returncode == 143, (out, err)
    assert "INTERRUPTED (SIGTERM)" in out or "interrupted while reading" in err


def test_interface_local_detection_aks():
    """AKS runs kube-proxy with --detect-local-mode InterfaceNamePrefix --pod-interface-name-prefix azv: its rules
    say `! -i azv+` where the CIDR mode says `! -s CIDR`. Verified with that mode; the CIDR mode's expectation
    (masquerade what does not come from the CIDR) does not hold of them."""
    runner = CliRunner()
    aks = ["-f", str(NODE), "--detect-local-mode", "InterfaceNamePrefix", "--pod-interface-name-prefix", "azv"]
    rules = runner.invoke(proxy, ["rules", "--node", "worker-1", *aks])
    assert rules.exit_code == 0 and "--dport 53 ! -i azv+ -j KUBE-MARK-MASQ" in rules.output
    assert '"pod traffic for shop/web:http external destinations" -i azv+ -j KUBE-SVC-' in rules.output
    dump = FIXTURES / "aks.save"
    assert rules.output == dump.read_text()
    out = runner.invoke(proxy, ["verify", *aks, "--iptables-save", str(dump)])
    assert out.exit_code == 0, out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16", "--iptables-save",
                                str(dump)])
    assert out.exit_code == 1 and "VIOLATED (5 masquerade)" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--detect-local-mode", "InterfaceNamePrefix"])
    assert out.exit_code == 2 and "needs --pod-interface-name-prefix" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--detect-local-mode", "NodeCIDR"])
    assert out.exit_code == 2 and "has no IPv4 spec.podCIDRs" in out.output


def test_counters_and_iptables_s_listings(tmp_path):
    """`iptables-save -c` counters, and `iptables -t nat -S` / `-t filter -S` listings given per table."""
    runner = CliRunner()
    base = ["-f", str(NODE), "--cluster-cidr", "10.244.0.0/16"]
    text = SAVE.read_text()
    counted = tmp_path / "c.save"
    counted.write_text("".join(f"[12:3456] {line}\n" if line.startswith("-A ") else f"{line}\n"
                               for line in text.splitlines()))
    assert runner.invoke(proxy, ["verify", *base, "--iptables-save", str(counted)]).exit_code == 0
    listings = []
    for table in ("nat", "filter"):
        body = text.split(f"*{table}\n", 1)[1].split("COMMIT", 1)[0]
        lines = [(f"-P {ln[1:].split()[0]} {ln.split()[1]}" if ln.split()[1] != "-" else f"-N {ln[1:].split()[0]}")
                 if ln.startswith(":") else ln for ln in body.splitlines() if ln and not ln.startswith("#")]
        path = tmp_path / f"{table}.txt"
        path.write_text("\n".join(lines) + "\n")
        listings += ["--iptables-s", f"{table}={path}"]
    out = runner.invoke(proxy, ["verify", *base, *listings])
    assert out.exit_code == 0, out.output


def test_release_1_24_layout_verifies_and_its_mutations_are_caught():
    """v1.24 wrote other chains (KUBE-XLB, KUBE-MARK-DROP, the NodePort masquerade in KUBE-SVC): the promises are
    the same, and so is the proof."""
    text = (FIXTURES / "release-1.24.save").read_text()
    assert _verify(text).ok
    no_masq = re.sub(r"^-A KUBE-SVC-H25LE2ANVX3UJ33I -p tcp .*--dport 30910 -j KUBE-MARK-MASQ\n", "", text,
                     flags=re.M)
    assert [v.prop for v in _verify(no_masq).violations][:1] == ["5 masquerade"]
    # With one local endpoint the KUBE-XLB affinity check changes nothing; the endpoint chain's --set does.
    no_set = text.replace(" -m recent --set --name KUBE-SEP-EMUAPVFCFHRD2FOR --mask 255.255.255.255 --rsource", "")
    assert no_set != text
    assert [v.prop for v in _verify(no_set).violations][:1] == ["4 affinity"]


def test_kernel_quantized_probabilities_verify(tmp_path):
    """iptables-save prints the kernel's 31-bit probability with 11 decimals: 1/3 reads 0.33333333349."""
    three = NODE.read_text().replace("- {addresses: [10.244.0.3], nodeName: control-plane, conditions: {ready: true}}",
                                     "- {addresses: [10.244.0.3], nodeName: control-plane, conditions: {ready: true}}\n"
                                     "- {addresses: [10.244.0.4], nodeName: control-plane, conditions: {ready: true}}")
    manifest = tmp_path / "three.yaml"
    manifest.write_text(three)
    runner = CliRunner()
    base = ["-f", str(manifest), "--cluster-cidr", "10.244.0.0/16"]
    rules = runner.invoke(proxy, ["rules", "--node", "worker-1", *base]).output
    assert "--probability 0.3333333333 " in rules
    dump = tmp_path / "q.save"
    dump.write_text(rules.replace("0.3333333333 ", "0.33333333349 ").replace("0.5000000000 ", "0.50000000000 "))
    out = runner.invoke(proxy, ["verify", *base, "--iptables-save", str(dump)])
    assert out.exit_code == 0, out.output
    dump.write_text(rules.replace("0.3333333333 ", "0.33333 "))  # %0.5f: off 1/3 by 3e-6
    out = runner.invoke(proxy, ["verify", *base, "--iptables-save", str(dump)])
    assert out.exit_code == 1 and "VIOLATED (3 balance)" in out.output


def test_special_files_are_refused(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    runner = CliRunner()
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--iptables-save", str(fifo)])
    assert out.exit_code == 2 and f"not a regular file ({fifo})" in out.output
    out = runner.invoke(proxy, ["verify", "-f", "/dev/zero"])
    assert out.exit_code == 2 and "not a regular file (/dev/zero)" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(tmp_path)])
    assert out.exit_code == 2


def test_interference_is_grouped_by_the_rules_that_decide_it():
    out = CliRunner().invoke(proxy, ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16",
                                     "--iptables-save", str(SAVE)])
    assert out.exit_code == 0
    full = out.output.count("NOT KUBE-PROXY'S (")
    more = re.findall(r"NOT KUBE-PROXY'S: (\d+) more frontends decided by the same rules \(filter LIBVIRT_FW",
                      out.output)
    assert more and full + sum(int(n) for n in more) == 8 and full <= 6  # at most two in full per deciding rule


def test_routes_decide_interfaces():
    """With the node's routes (`ip -4 route`) a forwarded packet leaves through its route's device and comes in
    through one whose routes cover its source: libvirt's rules for virbr0 no longer touch Service traffic, and
    what remains is flannel's own masquerade of other nodes' pod addresses."""
    runner = CliRunner()
    args = ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16", "--iptables-save", str(SAVE)]
    plain = runner.invoke(proxy, args)
    routed = runner.invoke(proxy, [*args, "--ip-route", str(FIXTURES / "kubeadm-flannel.routes")])
    assert plain.exit_code == routed.exit_code == 0
    reject = re.compile(r"filter LIBVIRT_FW[IO] line \d+: .*-j REJECT")
    assert reject.search(plain.output) and not reject.search(routed.output)
    assert "FLANNEL-POSTRTG" in routed.output
    bad = FIXTURES.parent / "fixtures" / "kubeadm-flannel.yaml"
    out = runner.invoke(proxy, [*args, "--ip-route", str(bad)])
    assert out.exit_code == 2 and "error: bad route destination" in out.output
