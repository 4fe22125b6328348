package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// faultNet is a Linux test network for real processes: one network
// namespace per node, each joined by a veth pair to one bridge in the root
// namespace, which holds the host's address so that the test (in the root
// namespace) reaches every node. Faults are firewall rules in a chain of
// each node's own namespace and tc qdiscs on the node's veths, so
// deleting the namespaces and the bridge removes every trace. Every name
// starts with a random per-run prefix and the subnet is one no interface
// of the host uses, so a leftover of an earlier run never collides.
type faultNet struct {
	prefix string
	bridge string
	subnet string // "10.a.b"
	hosts  []faultHost
	fwd    bool // the root FORWARD rule for the bridge is installed
}

// faultHost is one node's namespace.
type faultHost struct {
	ns     string // network namespace name
	veth   string // host end of the veth pair, a port of the bridge
	ip     string // the node's address
	shaper bool   // an htb qdisc is installed on the link
	shaped bool   // and caps the rate now
}

// faultChain is the iptables chain in each namespace that holds the
// injected faults; INPUT jumps to it, so flushing it heals the node.
const faultChain = "ARBFAULT"

// faultLinkRate is the rate of a shaper whose cap is lifted.
const faultLinkRate = "10gbit"

// faultDev is the node's end of its veth pair, inside its namespace.
const faultDev = "eth0"

// faultTools are the commands the fault network needs, with the Debian
// package that has each.
var faultTools = [][2]string{{"ip", "iproute2"}, {"tc", "iproute2"}, {"iptables", "iptables"}}

// errFaultEnv is returned when this machine cannot run the fault network.
var errFaultEnv = errors.New("fault injection needs root, ip, tc and iptables (run .ci/faults-deps, or apt-get install -y iproute2 iptables, as root)")

// faultPrereqs reports what is missing to build a fault network.
func faultPrereqs() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range faultTools {
		if _, err := exec.LookPath(tool[0]); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", tool[0], tool[1]))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w; missing: %s", errFaultEnv, strings.Join(missing, ", "))
	}
	// Root without the right to make namespaces (as in some containers)
	// is no better than no root.
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	probe := "afprobe-" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return fmt.Errorf("%w; ip netns add: %v: %s", errFaultEnv, err, bytes.TrimSpace(out))
	}
	if out, err := exec.Command("ip", "netns", "del", probe).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns del %s: %v: %s", probe, err, bytes.TrimSpace(out))
	}
	return nil
}

// newFaultNet builds the namespaces, veths and bridge for n nodes and
// removes them when the test ends, whatever its outcome. Processes running
// in the namespaces must be stopped before (register their cleanup after
// this call).
func newFaultNet(t *testing.T, n int) *faultNet {
	t.Helper()
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	fn := &faultNet{prefix: "af" + hex.EncodeToString(rnd[:2])}
	fn.bridge = fn.prefix + "br"
	t.Cleanup(func() { fn.remove(t) })
	used, err := exec.Command("ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v\n%s", err, used)
	}
	for try := 0; ; try++ {
		fn.subnet = fmt.Sprintf("10.%d.%d", 200+int(rnd[2]+byte(try))%50, 1+int(rnd[0]+byte(7*try))%250)
		if !bytes.Contains(used, []byte(" "+fn.subnet+".")) {
			break
		}
		if try > 100 {
			t.Fatal("no free 10.x.y.0/24 subnet for the fault network")
		}
	}
	fn.must(t, "ip", "link", "add", fn.bridge, "type", "bridge")
	fn.must(t, "ip", "addr", "add", fn.hostIP()+"/24", "dev", fn.bridge)
	fn.must(t, "ip", "link", "set", fn.bridge, "up")
	// With br_netfilter loaded, bridged frames pass the root namespace's
	// FORWARD chain: a DROP policy there (as container engines set) must
	// not cut the nodes off from each other.
	fn.must(t, "iptables", "-w", "-I", "FORWARD", "-i", fn.bridge, "-o", fn.bridge, "-j", "ACCEPT")
	fn.fwd = true
	for i := range n {
		h := faultHost{ns: fmt.Sprintf("%s-n%d", fn.prefix, i+1), veth: fmt.Sprintf("%sh%d", fn.prefix, i+1),
			ip: fmt.Sprintf("%s.%d", fn.subnet, i+1)}
		fn.hosts = append(fn.hosts, h)
		peer := fmt.Sprintf("%sp%d", fn.prefix, i+1)
		fn.must(t, "ip", "netns", "add", h.ns)
		fn.must(t, "ip", "link", "add", h.veth, "type", "veth", "peer", "name", peer)
		fn.must(t, "ip", "link", "set", peer, "netns", h.ns)
		fn.must(t, "ip", "-n", h.ns, "link", "set", peer, "name", faultDev)
		fn.must(t, "ip", "-n", h.ns, "addr", "add", h.ip+"/24", "dev", faultDev)
		fn.must(t, "ip", "-n", h.ns, "link", "set", faultDev, "up")
		fn.must(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
		fn.must(t, "ip", "link", "set", h.veth, "master", fn.bridge, "up")
		fn.must(t, fn.inNS(i, "iptables", "-w", "-N", faultChain)...)
		fn.must(t, fn.inNS(i, "iptables", "-w", "-A", "INPUT", "-j", faultChain)...)
	}
	return fn
}

// hostIP is the bridge's address, the test's own on the fault network.
func (fn *faultNet) hostIP() string { return fn.subnet + ".254" }

// prefixFor is the command prefix that runs a process in node i's
// namespace with env (VAR=value pairs) added to its environment. Both ip
// netns exec and env exec the command, so the process's pid is the
// command's own and signals reach it directly.
func (fn *faultNet) prefixFor(i int, env ...string) []string {
	p := []string{"ip", "netns", "exec", fn.hosts[i].ns}
	if len(env) > 0 {
		p = append(append(p, "env"), env...)
	}
	return p
}

// inNS returns argv run in node i's namespace.
func (fn *faultNet) inNS(i int, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", fn.hosts[i].ns}, argv...)
}

// run runs argv and returns its error with its output.
func (fn *faultNet) run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return nil
}

// must runs argv and fails the test on error.
func (fn *faultNet) must(t *testing.T, argv ...string) {
	t.Helper()
	if err := fn.run(argv...); err != nil {
		t.Fatal(err)
	}
}

// cut drops every packet node i receives from node j and node j from node
// i: a silent partition of the pair, connections hang rather than fail.
func (fn *faultNet) cut(t *testing.T, i, j int) {
	t.Helper()
	fn.must(t, fn.inNS(i, "iptables", "-w", "-A", faultChain, "-s", fn.hosts[j].ip, "-j", "DROP")...)
	fn.must(t, fn.inNS(j, "iptables", "-w", "-A", faultChain, "-s", fn.hosts[i].ip, "-j", "DROP")...)
}

// lossy drops each packet between node i and the other nodes with
// probability p, both ways (the test's own traffic to the node is spared).
func (fn *faultNet) lossy(t *testing.T, i int, p float64) {
	t.Helper()
	prob := fmt.Sprintf("%.3f", p)
	for j := range fn.hosts {
		if j == i {
			continue
		}
		fn.must(t, fn.inNS(i, "iptables", "-w", "-A", faultChain, "-s", fn.hosts[j].ip,
			"-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP")...)
		fn.must(t, fn.inNS(j, "iptables", "-w", "-A", faultChain, "-s", fn.hosts[i].ip,
			"-m", "statistic", "--mode", "random", "--probability", prob, "-j", "DROP")...)
	}
}

// shape caps node i's bandwidth to rate (a tc rate such as "256kbit")
// each way: on its own device for what it sends, on the bridge's port for
// what it receives.
func (fn *faultNet) shape(t *testing.T, i int, rate string) {
	t.Helper()
	if !fn.hosts[i].shaper {
		for _, l := range fn.links(i) {
			fn.must(t, l.tc("qdisc", "add", "dev", l.dev, "root", "handle", "1:", "htb", "default", "10")...)
			fn.must(t, l.tc("class", "add", "dev", l.dev, "parent", "1:", "classid", "1:10",
				"htb", "rate", rate, "ceil", rate, "burst", "16k")...)
		}
		fn.hosts[i].shaper = true
	} else {
		fn.setRate(t, i, rate)
	}
	fn.hosts[i].shaped = true
}

// faultLink is one end of a node's link as tc sees it.
type faultLink struct {
	argv []string // how to run tc where the device is
	dev  string
}

// tc returns the tc command line with args.
func (l faultLink) tc(args ...string) []string {
	return append(append([]string(nil), l.argv...), args...)
}

// links returns both ends of node i's link: its device in its namespace,
// and the bridge's port in the root namespace.
func (fn *faultNet) links(i int) []faultLink {
	return []faultLink{{fn.inNS(i, "tc"), faultDev}, {[]string{"tc"}, fn.hosts[i].veth}}
}

// setRate changes the rate of node i's shaper.
func (fn *faultNet) setRate(t *testing.T, i int, rate string) {
	t.Helper()
	for _, l := range fn.links(i) {
		fn.must(t, l.tc("class", "change", "dev", l.dev, "parent", "1:", "classid", "1:10",
			"htb", "rate", rate, "ceil", rate, "burst", "16k")...)
	}
}

// heal removes every injected network fault.
func (fn *faultNet) heal(t *testing.T) {
	t.Helper()
	for i := range fn.hosts {
		fn.must(t, fn.inNS(i, "iptables", "-w", "-F", faultChain)...)
		if fn.hosts[i].shaped {
			// Lifting the cap rather than deleting the qdisc keeps the
			// packets queued behind it, as a link whose capacity comes back
			// would.
			fn.setRate(t, i, faultLinkRate)
			fn.hosts[i].shaped = false
		}
	}
}

// remove deletes the namespaces (with the veths and rules in them), the
// bridge and the root FORWARD rule, logging what it could not remove.
func (fn *faultNet) remove(t *testing.T) {
	var errs []error
	for _, h := range fn.hosts {
		if err := fn.run("ip", "netns", "del", h.ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
		// The host end goes with its peer; this is for a half-built pair.
		_ = exec.Command("ip", "link", "del", h.veth).Run()
	}
	if fn.fwd {
		if err := fn.run("iptables", "-w", "-D", "FORWARD", "-i", fn.bridge, "-o", fn.bridge, "-j", "ACCEPT"); err != nil {
			errs = append(errs, err)
		}
	}
	if err := fn.run("ip", "link", "del", fn.bridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("removing fault network %s: %v", fn.prefix, err)
	}
}
