package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token lifetimes.
const (
	AccessTTL  = time.Hour
	RefreshTTL = 30 * 24 * time.Hour
	leeway     = 30 * time.Second
)

// Token types (claim typ, and audience).
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Claims are Team Chat's JWT claims.
type Claims struct {
	Role  string `json:"role"`
	Typ   string `json:"typ"`
	Epoch int64  `json:"ep"` // the account's token epoch at issue time
	jwt.RegisteredClaims
}

// Tokens issues and verifies HS256 JWTs with the installation's secret.
type Tokens struct {
	secret []byte
	issuer string
	now    func() time.Time
}

// NewTokens returns a Tokens using secret; issuer is the installation id.
func NewTokens(secret []byte, issuer string) *Tokens {
	return &Tokens{secret: secret, issuer: issuer, now: time.Now}
}

// LoadOrCreateSecret reads the JWT secret from dir/jwt.key, creating a random
// 32-byte one with mode 0600 on first start.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, "jwt.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("auth: %s is shorter than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return b, f.Close()
}

// Issued is a signed token with its id and expiry.
type Issued struct {
	Token     string
	JTI       string
	ExpiresAt time.Time
}

// Issue signs a token of type typ for the user.
func (t *Tokens) Issue(userID int64, role, typ string, epoch int64) (Issued, error) {
	now := t.now()
	ttl := AccessTTL
	if typ == TypeRefresh {
		ttl = RefreshTTL
	}
	jti := RandomToken(16)
	c := Claims{
		Role:  role,
		Typ:   typ,
		Epoch: epoch,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{"teamchat-" + typ},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return Issued{}, fmt.Errorf("auth: sign: %w", err)
	}
	return Issued{Token: s, JTI: jti, ExpiresAt: now.Add(ttl)}, nil
}

// MaxClockStep is how far back the server's clock may step without signing
// out the users whose tokens it issued just before.
const MaxClockStep = 10 * time.Minute

// ErrBadToken is any token that must be refused.
var ErrBadToken = errors.New("invalid token")

// maxTokenLen bounds what the parser is given at all.
const maxTokenLen = 4096

// Verify checks signature (HS256 only), expiry (required), issued-at, issuer,
// audience and type, and returns the claims with the user id.
func (t *Tokens) Verify(token, typ string) (Claims, int64, error) {
	var c Claims
	if len(token) == 0 || len(token) > maxTokenLen {
		return c, 0, ErrBadToken
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience("teamchat-"+typ),
		jwt.WithTimeFunc(t.now),
	)
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		return c, 0, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if c.Typ != typ || c.ID == "" || c.IssuedAt == nil {
		return c, 0, ErrBadToken
	}
	// Issued in the future: a forgery or a clock that stepped back. Tokens
	// this server issued just before its clock stepped back by up to
	// MaxClockStep stay valid (F11); beyond that they are refused.
	if c.IssuedAt.Time.After(t.now().Add(MaxClockStep)) {
		return c, 0, fmt.Errorf("%w: issued in the future", ErrBadToken)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return c, 0, ErrBadToken
	}
	return c, id, nil
}
