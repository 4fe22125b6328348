package watcher

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// Notification kinds, as Notification.Event carries them.
const (
	NoticeRefuted  = "claim-refuted"  // the watchtower sent a refute: the claimant forfeits
	NoticeAnswered = "claim-answered" // the watchtower answered a timeout claim: play resumes
	NoticePending  = "claim-pending"  // a claim against the player that the watchtower cannot meet
	NoticeFailed   = "claim-failed"   // the watchtower's refute or answer was refused, or missed the window
	NoticeRetrying = "claim-retrying" // the node refused the watchtower's refute or answer so far; it retries until the window closes
)

// Notification tells a player about a claim against them and what the
// watchtower did about it.
type Notification struct {
	Player common.Address
	GameID common.Hash
	Event  string
	// Detail is a sentence for a person to read.
	Detail string
	// Claim is the claim's transaction; Tx the watchtower's, if any.
	Claim common.Hash
	Tx    common.Hash
}

// Notifier delivers notifications to players. Delivery is at least once:
// a watcher killed after notifying but before recording the claim as
// handled notifies again when it replays the claim.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// LogNotifier writes notifications to a logger; nil means slog.Default().
type LogNotifier struct{ Logger *slog.Logger }

// Notify implements Notifier.
func (l LogNotifier) Notify(_ context.Context, n Notification) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Info("watcher notification", "player", n.Player, "game", n.GameID, "event", n.Event, "detail", n.Detail, "claim", n.Claim, "tx", n.Tx)
	return nil
}

// MemNotifier keeps notifications in memory, for tests.
type MemNotifier struct {
	mu   sync.Mutex
	sent []Notification
}

// NewMemNotifier returns an empty MemNotifier.
func NewMemNotifier() *MemNotifier { return &MemNotifier{} }

// Notify implements Notifier.
func (m *MemNotifier) Notify(_ context.Context, n Notification) error {
	m.mu.Lock()
	m.sent = append(m.sent, n)
	m.mu.Unlock()
	return nil
}

// Notifications returns a copy of the notifications so far, in order.
func (m *MemNotifier) Notifications() []Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Notification(nil), m.sent...)
}
