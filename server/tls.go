package server

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LoadTLS returns the server's certificate: the files given with --tls-cert
// and --tls-key, or a self-signed one created in the data directory on first
// use (tls.crt, tls.key with mode 0600) and kept, so its fingerprint stays the
// same across restarts and can be pinned.
func LoadTLS(dataDir, certFile, keyFile string) (tls.Certificate, string, error) {
	if certFile == "" && keyFile == "" {
		certFile, keyFile = filepath.Join(dataDir, "tls.crt"), filepath.Join(dataDir, "tls.key")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := createSelfSigned(certFile, keyFile); err != nil {
				return tls.Certificate{}, "", err
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return cert, "", fmt.Errorf("tls: %w", err)
	}
	return cert, Fingerprint(cert.Certificate[0]), nil
}

// Fingerprint is the SHA-256 of a certificate's DER bytes, in hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func createSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Team Chat " + host, Organization: []string{"Team Chat"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, host, strings.TrimSuffix(host, ".local")+".local")
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ipn.IP)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der, 0o644)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dualListener serves TLS and plain HTTP on one port. Each new connection's
// first byte is read on its own goroutine (bounded by a deadline, so a silent
// client holds up nobody): a TLS handshake record (0x16) gets tls.Server, so
// net/http sees a *tls.Conn and sets r.TLS; anything else stays plain HTTP for
// browsers that would balk at a self-signed certificate.
type dualListener struct {
	inner  net.Listener
	cfg    *tls.Config
	conns  chan net.Conn
	errc   chan error
	closed chan struct{}
	once   sync.Once
}

func newDualListener(inner net.Listener, cfg *tls.Config) *dualListener {
	l := &dualListener{inner: inner, cfg: cfg, conns: make(chan net.Conn), errc: make(chan error, 1), closed: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *dualListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			l.errc <- err
			return
		}
		go l.classify(c)
	}
}

func (l *dualListener) classify(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	pc := &peekedConn{Conn: c, r: bufio.NewReader(c)}
	b, err := pc.r.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var out net.Conn = pc
	if b[0] == 0x16 {
		out = tls.Server(pc, l.cfg)
	}
	select {
	case l.conns <- out:
	case <-l.closed:
		c.Close()
	}
}

func (l *dualListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		l.errc <- err
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *dualListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.inner.Close()
}

func (l *dualListener) Addr() net.Addr { return l.inner.Addr() }

// peekedConn replays what was read while deciding.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
