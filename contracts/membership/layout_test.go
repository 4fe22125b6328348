package membership

import (
	"encoding/binary"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// TestSlotCache checks that the cached slot keys are the layout's keys, on
// the first lookup, on a hit and after the cache has evicted the address.
func TestSlotCache(t *testing.T) {
	addrOf := func(i uint64) common.Address {
		var a common.Address
		binary.BigEndian.PutUint64(a[12:], i)
		return a
	}
	check := func(a common.Address) {
		t.Helper()
		if got, want := slotIndex(a), crypto.Keccak256Hash([]byte("index"), a[:]); got != want {
			t.Fatalf("slotIndex(%v) = %x, want %x", a, got, want)
		}
		if got, want := slotAllowed(a), crypto.Keccak256Hash([]byte("allowed"), a[:]); got != want {
			t.Fatalf("slotAllowed(%v) = %x, want %x", a, got, want)
		}
	}
	first := addrOf(1)
	check(first) // miss
	check(first) // hit
	for i := uint64(2); i < 2+uint64(slotCache.Len())+20000; i++ {
		slotIndex(addrOf(i))
	}
	if slotCache.Contains(first) {
		t.Fatal("the first address is still cached after the cache filled")
	}
	check(first)        // evicted, computed again
	check(addrOf(9999)) // neither the newest nor evicted first
}
