package api_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"teamchat/server"
	"teamchat/server/config"
	"teamchat/server/servertest"
)

// pinned trusts exactly one certificate, by fingerprint, as client mode does.
func pinned(fp string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the fingerprint check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || server.Fingerprint(raw[0]) != fp {
				return errors.New("certificate fingerprint does not match the pinned one")
			}
			return nil
		},
	}
}

func TestTLSAndPlainHTTPOnOnePort(t *testing.T) {
	dir := t.TempDir()
	env := servertest.StartIn(t, dir, func(c *config.Config) { c.TLS = true })
	env.AddUser("prof", "admin")
	fp := env.Srv.Fingerprint()
	if len(fp) != 64 {
		t.Fatalf("fingerprint %q", fp)
	}
	httpsURL := "https://" + strings.TrimPrefix(env.URL, "http://")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(fp)}}
	res, err := client.Get(httpsURL + "/api/v1/info")
	if err != nil || res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("https: %v %v", err, res)
	}
	res.Body.Close()
	// Plain HTTP keeps working on the same port.
	env.Anon().Must(200, "GET", "/api/v1/info", nil)
	// A session over TLS gets a Secure cookie.
	body := bytes.NewBufferString(`{"username":"prof","password":"` + servertest.Password + `"}`)
	res, err = client.Post(httpsURL+"/api/v1/session", "application/json", body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("session over https: %v %v", err, res)
	}
	res.Body.Close()
	if c := res.Header.Get("Set-Cookie"); !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("cookie over TLS: %s", c)
	}
	// wss with the page's own https origin.
	d := websocket.Dialer{TLSClientConfig: pinned(fp)}
	tok := env.Login("prof").Token
	conn, _, err := d.Dial("wss"+strings.TrimPrefix(httpsURL, "https")+"/api/v1/ws", http.Header{"Origin": {httpsURL}, "Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	var ready map[string]any
	if err := conn.ReadJSON(&ready); err != nil || ready["type"] != "ready" {
		t.Fatalf("wss ready: %v %v", err, ready)
	}
	conn.Close()
	// A client pinning another fingerprint refuses the server.
	wrong := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(strings.Repeat("0", 64))}}
	if _, err := wrong.Get(httpsURL + "/healthz"); err == nil {
		t.Fatal("a wrong pin was accepted")
	}
	// The console shows the fingerprint; a restart keeps the certificate.
	if got := env.Login("prof").Must(200, "GET", "/api/v1/console", nil).JSON()["fingerprint"]; got != fp {
		t.Fatalf("console fingerprint %v", got)
	}
	env.Stop()
	env2 := servertest.StartIn(t, dir, func(c *config.Config) { c.TLS = true })
	if env2.Srv.Fingerprint() != fp {
		t.Fatal("the certificate changed across a restart")
	}
}
