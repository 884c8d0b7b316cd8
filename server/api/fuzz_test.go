package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Request shapes the handlers decode (copies of the anonymous structs in
// handlers.go): strings, a bool, pointers and a []int64.
type (
	fuzzSend struct {
		Body     string `json:"body"`
		ClientID string `json:"client_id"`
	}
	fuzzCreateConv struct {
		Name      string  `json:"name"`
		Kind      string  `json:"kind"`
		MemberIDs []int64 `json:"member_ids"`
	}
	fuzzPatchConv struct {
		Name     *string `json:"name"`
		Locked   *bool   `json:"locked"`
		AutoJoin *bool   `json:"auto_join"`
	}
	fuzzRegister struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		DisplayName string `json:"display_name"`
		JoinCode    string `json:"join_code"`
		Session     bool   `json:"session"`
	}
	fuzzMember struct {
		UserID int64  `json:"user_id"`
		Role   string `json:"role"`
	}
)

// fuzzTargets pairs each request shape with the keys it allows, written out
// here rather than derived from the tags, so the oracle does not share code
// with checkKeys.
var fuzzTargets = []struct {
	name string
	new  func() any
	keys []string
}{
	{"send", func() any { return new(fuzzSend) }, []string{"body", "client_id"}},
	{"create", func() any { return new(fuzzCreateConv) }, []string{"name", "kind", "member_ids"}},
	{"patch", func() any { return new(fuzzPatchConv) }, []string{"name", "locked", "auto_join"}},
	{"register", func() any { return new(fuzzRegister) }, []string{"username", "password", "display_name", "join_code", "session"}},
	{"member", func() any { return new(fuzzMember) }, []string{"user_id", "role"}},
}

// topLevelKeys walks a valid JSON object with the token stream and returns
// its keys in order, duplicates included.
func topLevelKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	var keys []string
	depth := 0
	wantKey := false // at depth 1, the next token is a key
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatalf("token walk of accepted input %q: %v", data, err)
		}
		if depth == 1 && wantKey {
			k, ok := tok.(string)
			if !ok {
				if tok == json.Delim('}') {
					depth--
					continue
				}
				t.Fatalf("key token %v (%T) in %q", tok, tok, data)
			}
			keys = append(keys, k)
			wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth == 1 {
				wantKey = true
			}
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 1 {
			wantKey = true // a value at depth 1 (scalar, or a nested value just closed) ends
		}
	}
}

// FuzzDecode feeds arbitrary bodies to the strict request decoder behind
// http.MaxBytesReader (THREATS A29, A30, A31, F13). Properties: no panic;
// whatever is accepted is valid UTF-8, valid JSON, one object whose keys are
// exactly the struct's tags (case-sensitive) with no duplicates, no larger
// than MaxBody, and decodes to the same value with plain json.Unmarshal.
// Seeds: f.Add below and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"body":"hi","client_id":"c1"}`,
		`{"name":"Lab","kind":"group","member_ids":[1,2,3]}`,
		`{"name":null,"locked":true,"auto_join":false}`,
		`{"username":"ana","password":"pw","display_name":"Ana","join_code":"x","session":true}`,
		`{"user_id":7,"role":"admin"}`,
		`{}`, ` {} `, "{}\n",
		`{"Body":"hi"}`, `{"BODY":"hi"}`, `{"client_ID":"x"}`,
		`{"body":"a","body":"b"}`,
		`{"user_id":1,"User_id":2}`,
		`{"role":"member","role":"admin"}`,
		`{"user_id":"1"}`, `{"user_id":1e400}`, `{"user_id":1.5}`, `{"user_id":-0}`,
		`{"member_ids":["1"]}`, `{"member_ids":[1e400]}`, `{"member_ids":null}`, `{"member_ids":{}}`,
		`{"body":"a\u0000b"}`, `{"body":"\ud800"}`, `{"body":"\u202e\u200d"}`,
		"{\"body\":\"\xc3\x28\"}", "\xef\xbb\xbf{}", "{\"body\xff\":1}",
		`{"body":"x"}xyz`, `{"body":"x"}{}`, `{"body":"x"}]`, `{"body":"x"`,
		`[]`, `null`, `"x"`, `1`, ``, ` `, `{"a":1}`,
		`{"body":{"body":1,"body":2}}`,
		`{"name":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
		`{"name":` + strings.Repeat(`{"a":`, 6000) + `1` + strings.Repeat("}", 6000) + `}`,
		`{"body":"` + strings.Repeat("x", MaxBody) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tg := range fuzzTargets {
			r := httptest.NewRequest(http.MethodPost, "/api/x", bytes.NewReader(data))
			r.Header.Set("Content-Type", "application/json")
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, MaxBody)
			v := tg.new()
			err := decode(r, v)
			if err != nil {
				var he *httpError
				if !errors.As(err, &he) {
					t.Fatalf("%s: decode error is not an httpError: %T %v", tg.name, err, err)
				}
				if len(data) > MaxBody && he.status != http.StatusRequestEntityTooLarge {
					t.Fatalf("%s: %d-byte body refused with %d, want 413", tg.name, len(data), he.status)
				}
				continue
			}
			if len(data) > MaxBody {
				t.Fatalf("%s: accepted a %d-byte body (limit %d)", tg.name, len(data), MaxBody)
			}
			if !utf8.Valid(data) {
				t.Fatalf("%s: accepted invalid UTF-8 %q", tg.name, data)
			}
			if !json.Valid(data) {
				t.Fatalf("%s: accepted invalid JSON %q", tg.name, data)
			}
			if b := bytes.TrimSpace(data); len(b) == 0 || b[0] != '{' {
				t.Fatalf("%s: accepted a non-object %q", tg.name, data)
			}
			seen := map[string]bool{}
			for _, k := range topLevelKeys(t, data) {
				found := false
				for _, a := range tg.keys {
					found = found || k == a
				}
				if !found {
					t.Fatalf("%s: accepted key %q (allowed %v) in %q", tg.name, k, tg.keys, data)
				}
				if seen[k] {
					t.Fatalf("%s: accepted duplicate key %q in %q", tg.name, k, data)
				}
				seen[k] = true
			}
			w := tg.new()
			if err := json.Unmarshal(data, w); err != nil {
				t.Fatalf("%s: decode accepted %q but json.Unmarshal refuses it: %v", tg.name, data, err)
			}
			if !reflect.DeepEqual(v, w) {
				t.Fatalf("%s: decode gave %#v, json.Unmarshal %#v for %q", tg.name, v, w, data)
			}
		}
	})
}

// checkKeys alone must refuse case variants and duplicates even for inputs
// decode would refuse earlier for other reasons.
func TestCheckKeysRefusesVariants(t *testing.T) {
	for _, s := range []string{
		`{"Body":"x"}`, `{"body":"x","body":"y"}`, `{"bodY":"x"}`, `{"body":"x","client_ID":"y"}`,
		`{"body":"x","Body":"y"}`, `{"bo\u0064y":"x","body":"y"}`,
	} {
		if err := checkKeys([]byte(s), new(fuzzSend)); err == nil {
			t.Errorf("checkKeys accepted %s", s)
		}
	}
	if err := checkKeys([]byte(`{"bo\u0064y":"x","client_id":"y"}`), new(fuzzSend)); err != nil {
		t.Errorf("checkKeys refused an escaped but exact key: %v", err)
	}
}
