package strictjson

import (
	"encoding/json"
	"fmt"
	"testing"
)

type frame struct {
	Type string  `json:"type"`
	ID   int64   `json:"conversation_id,omitempty"`
	Body string  `json:"body"`
	IDs  []int64 `json:"ids"`
	Skip string  `json:"-"`
}

var samples = []string{
	`{"type":"send","conversation_id":1,"body":"hi"}`,
	` { "type" : "send" , "body" : "a,b}\"]" , "ids" : [1, 2, {"x": [3]}] } `,
	`{}`, `{"type":"a","type":"b"}`, `{"Type":"a"}`, `{"t\u0079pe":"a"}`, `{"t\u0079pe":"a","type":"b"}`,
	`{"nope":1}`, `{"-":1}`, `[]`, `"s"`, `1`, `{"type":{"type":1,"type":2}}`, `{"body":null,"ids":[]}`,
	`{"type":"x"}{"type":"y"}`, `{"type":`, `{"type":"x",}`, `{"type":"x"} trailing`, `{"type":"x\"}`,
	`{"body":"\\"}`, `{"body":"` + "\u00e9\u4e2d" + `","type":true}`,
}

// TestCheckKeysAgreesWithTheTokenCheck: the fast scan of valid JSON answers
// exactly what the token-by-token check does.
func TestCheckKeysAgreesWithTheTokenCheck(t *testing.T) {
	for _, s := range samples {
		agree(t, []byte(s))
	}
}

func agree(t *testing.T, data []byte) {
	t.Helper()
	got, want := CheckKeys(data, &frame{}), checkTokens(data, keysOf(&frame{}))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: CheckKeys %v, the token check %v", data, got, want)
	}
	if json.Valid(data) {
		if got := CheckValidKeys(data, &frame{}); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: CheckValidKeys %v, the token check %v", data, got, want)
		}
	}
}

func FuzzCheckKeys(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(agree)
}
