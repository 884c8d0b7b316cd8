//go:build benchpprof

package main

// Profiling build for the load command (go build -tags benchpprof): with
// TEAMCHAT_PPROF_ADDR set, net/http/pprof is served there, so CPU and
// allocation profiles can be taken of the real binary under load. Normal
// builds do not contain it.

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("TEAMCHAT_PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
