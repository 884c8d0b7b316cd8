// Package pinproxy lets the desktop client open a class served over TLS with a
// self-signed certificate: a reverse proxy on 127.0.0.1 forwards to the class's
// HTTPS address and accepts only the certificate whose SHA-256 fingerprint was
// announced (mDNS TXT fp=). The window loads the proxy's plain-HTTP address;
// the hop it travels in clear is loopback only.
package pinproxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// Proxy is a running pinned proxy.
type Proxy struct {
	srv    *http.Server
	ln     net.Listener
	target *url.URL
}

// ErrPin is returned to the page (as 502) when the server's certificate is not the pinned one.
var ErrPin = errors.New("the server's certificate does not match the fingerprint announced on the network")

// Pinned returns a TLS configuration that accepts exactly the certificate
// whose SHA-256 fingerprint (hex) is fp, whatever its names and issuer.
func Pinned(fp string) *tls.Config {
	fp = strings.ToLower(fp)
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the chain is not checked: the pin below is the whole trust decision
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return ErrPin
			}
			sum := sha256.Sum256(raw[0])
			if hex.EncodeToString(sum[:]) != fp {
				return ErrPin
			}
			return nil
		},
	}
}

// Start listens on 127.0.0.1 and forwards to target (https://host:port),
// trusting only the certificate with fingerprint fp.
func Start(target, fp string, log *slog.Logger) (*Proxy, error) {
	t, err := url.Parse(target)
	if err != nil || t.Scheme != "https" || t.Host == "" {
		return nil, fmt.Errorf("pinproxy: want https://host:port, got %q", target)
	}
	if len(fp) != 64 {
		return nil, fmt.Errorf("pinproxy: fingerprint must be 64 hex digits")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: &url.URL{Scheme: "https", Host: t.Host}}
	own := "http://" + ln.Addr().String()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.target)
			pr.Out.Host = p.target.Host
			// The page's origin is this proxy; to the server it is the server itself.
			if o := pr.In.Header.Get("Origin"); o == own {
				pr.Out.Header.Set("Origin", "https://"+p.target.Host)
			}
			pr.Out.Header.Del("X-Forwarded-For")
		},
		Transport: &http.Transport{
			TLSClientConfig:     Pinned(fp),
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
		},
		ModifyResponse: func(res *http.Response) error {
			// Cookies come back over the loopback hop in clear: drop Secure so
			// the window keeps them (the network hop is TLS).
			if cs := res.Header.Values("Set-Cookie"); len(cs) > 0 {
				res.Header.Del("Set-Cookie")
				for _, c := range cs {
					res.Header.Add("Set-Cookie", strings.ReplaceAll(c, "; Secure", ""))
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			msg := "cannot reach the class"
			if errors.Is(err, ErrPin) || strings.Contains(err.Error(), ErrPin.Error()) {
				msg = ErrPin.Error() + ": someone else may be pretending to be this class"
			}
			if log != nil {
				log.Warn("proxy", "target", p.target.Host, "err", err)
			}
			http.Error(w, msg, http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is the address the window opens.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() + "/" }

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }
