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
)

// CheckKeys reports an error unless data is a JSON object whose top-level keys
// are all json tags of v's struct type, spelled exactly, each at most once.
func CheckKeys(data []byte, v any) error {
	allowed := map[string]bool{}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			allowed[tag] = true
		}
	}
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
