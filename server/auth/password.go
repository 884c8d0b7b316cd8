// Package auth holds password hashing, JWT issue and verification, session
// secrets and the login rate limiter. It knows no HTTP and no SQL.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"teamchat/server/model"
)

// Hasher hashes and checks passwords with bcrypt, with a bound on how many
// hashes run at once so a login flood cannot pin every core, and a fair
// queue in front of it (Turn) so one source cannot hold every slot.
type Hasher struct {
	cost  int
	sem   chan struct{}
	dummy []byte

	turnMu sync.Mutex
	turns  map[string]*turn

	// compare is bcrypt.CompareHashAndPassword; tests replace it to hold a
	// hash in progress.
	compare func(hash, pw []byte) error
}

// NewHasher returns a Hasher; concurrency bounds simultaneous bcrypt runs.
func NewHasher(cost, concurrency int) *Hasher {
	if cost < bcrypt.MinCost {
		cost = bcrypt.DefaultCost
	}
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{cost: cost, sem: make(chan struct{}, concurrency), turns: map[string]*turn{}, compare: bcrypt.CompareHashAndPassword}
	// Compared against for unknown users, so both answers take the same time.
	h.dummy, _ = bcrypt.GenerateFromPassword([]byte("teamchat-dummy-password"), cost)
	return h
}

// ValidatePassword checks the password rules: 8 to 72 bytes (bcrypt's limit).
func ValidatePassword(pw string) error {
	if len([]rune(pw)) < 8 {
		return model.Invalid("password: at least 8 characters")
	}
	if len(pw) > 72 {
		return model.Invalid("password: at most 72 bytes (bcrypt's limit; %d given)", len(pw))
	}
	return nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the bcrypt hash of a valid password.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	if err != nil {
		return "", fmt.Errorf("auth: hash: %w", err)
	}
	return string(b), nil
}

// Check reports whether pw matches hash. An empty hash (no password, e.g. a
// guest) is checked against a dummy so the time taken does not tell.
func (h *Hasher) Check(ctx context.Context, hash, pw string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	target := []byte(hash)
	if hash == "" {
		target = h.dummy
	}
	err := h.compare(target, []byte(pw))
	if hash == "" {
		return false, nil
	}
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) || errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: check: %w", err)
	}
	return true, nil
}

// RandomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// JoinCode returns a short class code without look-alike characters.
func JoinCode() string {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
