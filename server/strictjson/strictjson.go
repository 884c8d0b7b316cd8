// Package strictjson checks a JSON object's keys before encoding/json sees
// it: encoding/json matches keys case-insensitively ("Role" sets role) and
// lets the last of duplicate keys win, which the API and the WebSocket refuse.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// allowedKeys caches each struct type's json tags: every frame and request
// body is checked, so the reflection runs once per type.
var allowedKeys sync.Map // reflect.Type → map[string]bool

func keysOf(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := allowedKeys.Load(t); ok {
		return m.(map[string]bool)
	}
	allowed := map[string]bool{}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			allowed[tag] = true
		}
	}
	allowedKeys.Store(t, allowed)
	return allowed
}

// CheckKeys reports an error unless data is a JSON object whose top-level keys
// are all json tags of v's struct type, spelled exactly, each at most once.
func CheckKeys(data []byte, v any) error {
	allowed := keysOf(v)
	if json.Valid(data) {
		if err, ok := checkValid(data, allowed); ok {
			return err
		}
	}
	return checkTokens(data, allowed)
}

// CheckValidKeys is CheckKeys for data that json.Valid accepted.
func CheckValidKeys(data []byte, v any) error {
	allowed := keysOf(v)
	if err, ok := checkValid(data, allowed); ok {
		return err
	}
	return checkTokens(data, allowed)
}

// checkValid scans the top-level keys of valid JSON without decoding the
// values; ok is false when data is not an object (checkTokens says why).
func checkValid(data []byte, allowed map[string]bool) (err error, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	var seen [8]string // frames and bodies have few keys; no map for them
	n := 0
	var more map[string]bool
	i++
	for {
		i = skipSpace(data, i)
		if data[i] == '}' {
			return nil, true
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := skipString(data, i)
		raw := data[i+1 : end-1]
		key := string(raw)
		if !plain(raw) { // escapes or non-ASCII: as encoding/json reads it
			if json.Unmarshal(data[i:end], &key) != nil {
				return nil, false
			}
		}
		if !allowed[key] {
			return fmt.Errorf("unknown field %q", key), true
		}
		dup := more[key]
		for _, k := range seen[:n] {
			dup = dup || k == key
		}
		if dup {
			return fmt.Errorf("duplicate field %q", key), true
		}
		if n < len(seen) {
			seen[n] = key
			n++
		} else {
			if more == nil {
				more = map[string]bool{}
			}
			more[key] = true
		}
		i = skipSpace(data, end)
		i = skipValue(data, skipSpace(data, i+1)) // past the colon
	}
}

func plain(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at data[i].
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// skipValue returns the index after the value that starts at data[i].
func skipValue(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch data[i] {
		case '"':
			i = skipString(data, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

// checkTokens is the general check, which also names what is malformed.
func checkTokens(data []byte, allowed map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return fmt.Errorf("malformed JSON: want an object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON")
		}
		key, _ := tok.(string)
		if !allowed[key] {
			return fmt.Errorf("unknown field %q", key)
		}
		if seen[key] {
			return fmt.Errorf("duplicate field %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("malformed JSON")
		}
	}
	return nil
}
