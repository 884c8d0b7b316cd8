package server

import (
	"net"
	"net/http"
	"net/http/pprof"
)

// startPprof serves Go's profiles on the loopback address of --pprof, on its
// own mux so they never appear on the class's listener. It lives until the
// process ends: it is a debugging aid for load tests, off by default.
func (s *Server) startPprof() error {
	ln, err := net.Listen("tcp", s.cfg.Pprof)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.log.Info("pprof listening", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
