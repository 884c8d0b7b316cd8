// Package api is Team Chat's HTTP side: every route in one function, one
// error → status mapping, strict JSON decoding, the WebSocket upgrade and the
// embedded web client.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"teamchat/server/model"
	"teamchat/server/strictjson"
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeErrorCode(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

// httpError is an error the API layer raises itself (decoding, parameters).
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...)}
}

// ErrorStatus maps any error to its status, code and client-safe message.
// It is the only place that does.
func ErrorStatus(err error) (int, string, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.code, he.msg
	}
	msg := "internal error"
	var de *model.Error
	if errors.As(err, &de) {
		msg = de.Msg
	}
	switch {
	case errors.Is(err, model.ErrInvalid):
		return http.StatusBadRequest, "bad_request", msg
	case errors.Is(err, model.ErrUnauthorized):
		if de == nil {
			msg = "sign in first"
		}
		return http.StatusUnauthorized, "unauthorized", msg
	case errors.Is(err, model.ErrForbidden):
		if de == nil {
			msg = "not allowed"
		}
		return http.StatusForbidden, "forbidden", msg
	case errors.Is(err, model.ErrNotFound):
		if de == nil {
			msg = "not found"
		}
		return http.StatusNotFound, "not_found", msg
	case errors.Is(err, model.ErrConflict):
		if de == nil {
			msg = "already exists"
		}
		return http.StatusConflict, "conflict", msg
	case errors.Is(err, model.ErrTooLarge):
		if de == nil {
			msg = "too large"
		}
		return http.StatusRequestEntityTooLarge, "too_large", msg
	case errors.Is(err, model.ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limited", msg
	case errors.Is(err, model.ErrUnavailable):
		if de == nil {
			msg = "storage is unavailable; try again"
		}
		return http.StatusServiceUnavailable, "unavailable", msg
	}
	return http.StatusInternalServerError, "internal", "internal error"
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := ErrorStatus(err)
	var de *model.Error
	if errors.As(err, &de) && de.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(de.RetryAfter.Seconds()))))
	}
	if status >= 500 {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	} else {
		a.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeErrorCode(w, status, code, msg)
}

// requireJSON refuses a body not declared as application/json (charset, if
// given, utf-8). A cross-site HTML form can post text/plain, urlencoded or
// multipart without asking, but never application/json, so a JSON body in a
// form (login CSRF) is refused here before it is read.
func requireJSON(r *http.Request) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type", "request body must be Content-Type: application/json"}
}

// decode reads a JSON body strictly: declared application/json, at most 64
// KiB, valid UTF-8, one object, only the fields of v spelled exactly as its
// tags, no duplicates.
func decode(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, "too_large", "request body over 64 KiB"}
		}
		return badRequest("could not read the request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("empty body: want a JSON object")
	}
	if !utf8.Valid(data) {
		return badRequest("body is not valid UTF-8")
	}
	if err := checkKeys(data, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("field %s: wrong type", ute.Field)
		}
		return badRequest("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: data after the object")
	}
	return nil
}

// checkKeys refuses case variants of known fields (encoding/json would accept
// "Role" for "role") and duplicate keys (the last would win silently).
func checkKeys(data []byte, v any) error {
	if err := strictjson.CheckKeys(data, v); err != nil {
		return badRequest("%s", err.Error())
	}
	return nil
}

// envelopeWriter turns the mux's own plain-text 404/405 answers under /api/
// into the error envelope.
type envelopeWriter struct {
	http.ResponseWriter
	wrote bool
}

func (e *envelopeWriter) WriteHeader(status int) {
	if e.wrote {
		return
	}
	e.wrote = true
	switch status {
	case http.StatusMethodNotAllowed:
		writeErrorCode(e.ResponseWriter, status, "method_not_allowed", "method not allowed on this path")
	case http.StatusNotFound:
		writeErrorCode(e.ResponseWriter, status, "not_found", "no such API path")
	default:
		writeErrorCode(e.ResponseWriter, status, "bad_request", http.StatusText(status))
	}
}

func (e *envelopeWriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the mux's plain-text body is replaced by the envelope
}
