package rpc

import (
	"context"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// linearMatches and linearMayMatch are the straightforward definitions of
// matches and mayMatch, which the indexed ones must agree with: a scan of
// every list, and Bloom.Test (one keccak hash) of every item.
func linearMatches(q *filterQuery, l *types.Log) bool {
	if len(q.Addresses) > 0 && !slices.Contains(q.Addresses, l.Address) {
		return false
	}
	if len(q.Topics) > len(l.Topics) {
		return false
	}
	for i, alts := range q.Topics {
		if len(alts) > 0 && !slices.Contains(alts, l.Topics[i]) {
			return false
		}
	}
	return true
}

func linearMayMatch(q *filterQuery, b types.Bloom) bool {
	if len(q.Addresses) > 0 && !slices.ContainsFunc(q.Addresses, func(a common.Address) bool { return b.Test(a[:]) }) {
		return false
	}
	for _, alts := range q.Topics {
		if len(alts) > 0 && !slices.ContainsFunc(alts, func(h common.Hash) bool { return b.Test(h[:]) }) {
			return false
		}
	}
	return true
}

// decodeFilter builds a filter the way the server does, from its JSON;
// a nil entry of topics is a null (any) position.
func decodeFilter(t testing.TB, addrs []common.Address, topics [][]common.Hash) filterQuery {
	t.Helper()
	raw := map[string]any{}
	if addrs != nil {
		raw["address"] = addrs
	}
	if len(topics) > 0 {
		ts := make([]any, len(topics))
		for i, alts := range topics {
			if alts != nil {
				ts[i] = alts
			}
		}
		raw["topics"] = ts
	}
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var q filterQuery
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatalf("decoding %d addresses, %d topic positions: %v", len(addrs), len(topics), err)
	}
	return q
}

func randAddrs(r *rand.Rand, n int) []common.Address {
	out := make([]common.Address, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = byte(r.Uint32())
		}
	}
	return out
}

func randHashes(r *rand.Rand, n int) []common.Hash {
	out := make([]common.Hash, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = byte(r.Uint32())
		}
	}
	return out
}

// TestBloomBitsLikeTest checks bloomBitsOf against Bloom.Test on random
// items and blooms of every density, including blooms the item was added
// to, and that the bits are exactly those Bloom.Add sets.
func TestBloomBitsLikeTest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var hits, misses int
	for i := range 3000 {
		item := randHashes(r, 1)[0][:]
		if i%2 == 0 {
			item = item[:common.AddressLength]
		}
		bb := bloomBitsOf(item)

		var one, back types.Bloom
		one.Add(item)
		set := 0
		for k := range bb.idx {
			back[bb.idx[k]] |= bb.bits[k]
			set += bits.OnesCount8(bb.bits[k])
		}
		if back != one || set < 1 || set > 3 {
			t.Fatalf("item %x: bits %+v (%d set) are not the bits Add sets", item, bb, set)
		}

		var b types.Bloom
		switch i % 3 {
		case 0: // dense: every bit set with probability 1/2
			for j := range b {
				b[j] = byte(r.Uint32())
			}
		case 1: // sparse: a block's worth of other items
			for _, h := range randHashes(r, 1+r.IntN(200)) {
				b.Add(h[:])
			}
		case 2: // holds the item
			for _, h := range randHashes(r, r.IntN(50)) {
				b.Add(h[:])
			}
			b.Add(item)
		}
		have, want := bb.in(&b), b.Test(item)
		if have != want {
			t.Fatalf("item %x, bloom %x: have %v, want %v (Bloom.Test)", item, b, have, want)
		}
		if want {
			hits++
		} else {
			misses++
		}
	}
	if hits == 0 || misses == 0 {
		t.Fatalf("%d hits and %d misses: the blooms do not test both outcomes", hits, misses)
	}
}

// TestFilterLikeLinearScan checks mayMatch and matches of decoded filters
// of every size, on both sides of setThreshold up to the bounds, against
// their straightforward definitions, on blocks and logs built partly from
// the filter's own items so that both outcomes occur.
func TestFilterLikeLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := []int{0, 1, 2, setThreshold, setThreshold + 1, 40, maxFilterAddresses}
	var outcomes [2][2]int // [mayMatch, matches][false, true]
	count := func(k int, v bool) {
		if v {
			outcomes[k][1]++
		} else {
			outcomes[k][0]++
		}
	}
	for range 40 {
		topics := make([][]common.Hash, r.IntN(maxFilterTopics+1))
		for i := range topics {
			if r.IntN(4) > 0 { // else null: any topic
				topics[i] = randHashes(r, sizes[r.IntN(len(sizes))])
			}
		}
		q := decodeFilter(t, randAddrs(r, sizes[r.IntN(len(sizes))]), topics)

		addr := func() common.Address {
			if len(q.Addresses) > 0 && r.IntN(2) == 0 {
				return q.Addresses[r.IntN(len(q.Addresses))]
			}
			return randAddrs(r, 1)[0]
		}
		topic := func(i int) common.Hash {
			if i < len(q.Topics) && len(q.Topics[i]) > 0 && r.IntN(4) > 0 {
				return q.Topics[i][r.IntN(len(q.Topics[i]))]
			}
			return randHashes(r, 1)[0]
		}
		for range 16 {
			// A block of a few logs; its bloom holds their items.
			var b types.Bloom
			for range r.IntN(4) {
				l := &types.Log{Address: addr()}
				for i := range r.IntN(maxFilterTopics + 2) {
					l.Topics = append(l.Topics, topic(i))
				}
				b.Add(l.Address[:])
				for _, h := range l.Topics {
					b.Add(h[:])
				}
				have, want := q.matches(l), linearMatches(&q, l)
				if have != want {
					t.Fatalf("filter of %d addresses, topics of %v alternatives: log %+v: matches %v, want %v",
						len(q.Addresses), lens(q.Topics), l, have, want)
				}
				count(1, want)
			}
			have, want := q.mayMatch(b), linearMayMatch(&q, b)
			if have != want {
				t.Fatalf("filter of %d addresses, topics of %v alternatives: bloom %x: mayMatch %v, want %v",
					len(q.Addresses), lens(q.Topics), b, have, want)
			}
			count(0, want)
		}
	}
	for k, name := range []string{"mayMatch", "matches"} {
		if outcomes[k][0] == 0 || outcomes[k][1] == 0 {
			t.Errorf("%s was %d times false and %d times true: the cases do not test both outcomes", name, outcomes[k][0], outcomes[k][1])
		}
	}
}

func lens(topics [][]common.Hash) []int {
	out := make([]int, len(topics))
	for i, alts := range topics {
		out[i] = len(alts)
	}
	return out
}

// TestFilterQueryIndexed checks that decoding computes the bloom bits of
// every address and alternative, and the sets of the long lists only, so
// that neither mayMatch nor matches hashes or scans per block or log.
func TestFilterQueryIndexed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	addrs := randAddrs(r, maxFilterAddresses)
	long, short := randHashes(r, maxTopicAlternatives), randHashes(r, 2)
	q := decodeFilter(t, addrs, [][]common.Hash{long, short, nil})

	if len(q.addrBits) != len(addrs) || len(q.addrSet) != len(addrs) {
		t.Fatalf("%d addresses: have %d bloom bits and a set of %d", len(addrs), len(q.addrBits), len(q.addrSet))
	}
	for i, a := range addrs {
		if q.addrBits[i] != bloomBitsOf(a[:]) {
			t.Fatalf("address %d: have bits %+v, want %+v", i, q.addrBits[i], bloomBitsOf(a[:]))
		}
		if _, ok := q.addrSet[a]; !ok {
			t.Fatalf("address %d missing from the set", i)
		}
	}
	if len(q.topicBits) != 3 || len(q.topicSets) != 3 {
		t.Fatalf("3 topic positions: have %d bloom bit lists and %d sets", len(q.topicBits), len(q.topicSets))
	}
	for i, alts := range [][]common.Hash{long, short, nil} {
		if len(q.topicBits[i]) != len(alts) {
			t.Fatalf("topic %d: %d alternatives, have %d bloom bits", i, len(alts), len(q.topicBits[i]))
		}
		for j, h := range alts {
			if q.topicBits[i][j] != bloomBitsOf(h[:]) {
				t.Fatalf("topic %d alternative %d: have bits %+v, want %+v", i, j, q.topicBits[i][j], bloomBitsOf(h[:]))
			}
		}
	}
	if len(q.topicSets[0]) != len(long) || q.topicSets[1] != nil || q.topicSets[2] != nil {
		t.Fatalf("topic sets of %d, %d and %d entries (nil: %v %v), want %d, none, none", len(q.topicSets[0]),
			len(q.topicSets[1]), len(q.topicSets[2]), q.topicSets[1] == nil, q.topicSets[2] == nil, len(long))
	}

	// A second decode into the same value leaves nothing of the first.
	if err := json.Unmarshal([]byte(`{"address":"`+contractAddr.Hex()+`"}`), &q); err != nil {
		t.Fatal(err)
	}
	if len(q.addrBits) != 1 || q.addrSet != nil || len(q.topicBits) != 0 || len(q.topicSets) != 0 {
		t.Fatalf("after decoding one address: %d address bits, set %v, %d topic bit lists, %d topic sets",
			len(q.addrBits), q.addrSet != nil, len(q.topicBits), len(q.topicSets))
	}
}

// BenchmarkGetLogsWideFilter is eth_getLogs (without transport) over the
// test chain's four blocks with the widest filter allowed: every address
// and topic list at its bound, the logs' address last in its list and no
// first-position alternative in any bloom, so that every block is tested
// against at least a thousand items and none is read.
func BenchmarkGetLogsWideFilter(b *testing.B) {
	e := newTestEnv(b, Config{})
	r := rand.New(rand.NewPCG(7, 8))
	addrs := append(randAddrs(r, maxFilterAddresses-1), contractAddr)
	topics := make([][]common.Hash, maxFilterTopics)
	for i := range topics {
		topics[i] = randHashes(r, maxTopicAlternatives)
	}
	q := decodeFilter(b, addrs, topics)
	from := gethrpc.BlockNumber(0)
	q.FromBlock = &from
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		logs, err := e.srv.eth.GetLogs(ctx, q)
		if err != nil || len(logs) != 0 {
			b.Fatalf("have %d logs, %v; want none", len(logs), err)
		}
	}
}
