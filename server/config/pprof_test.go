package config

import "testing"

// The profile listener is for load tests on this machine: only loopback.
func TestPprofMustBeLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"":               true,
		"127.0.0.1:6060": true,
		"[::1]:0":        true,
		"0.0.0.0:6060":   false,
		"10.0.0.5:6060":  false,
		"localhost:6060": false, // a name could resolve anywhere
		"127.0.0.1":      false,
	} {
		c := Defaults()
		c.DataDir = t.TempDir()
		c.Pprof = addr
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("--pprof %q: err %v, want ok=%v", addr, err, ok)
		}
	}
}
