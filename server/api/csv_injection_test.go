package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"

	"teamchat/server/cli"
	"teamchat/server/servertest"
	"teamchat/server/store"
)

// A username the API itself refuses, but an older database, a restore or the
// store can hold: every CSV export must still defuse it, in every column.
const formulaUsername = `=cmd|'/c calc'!a0` // lower case: the store keeps usernames so

// TestEveryCSVColumnIsDefused reads every CSV export (participation, the
// conversation transcript, the session transcript, `teamchat export`) of a
// class whose user, conversation and message carry formulas, and checks that
// no cell of any row starts with a formula character.
func TestEveryCSVColumnIsDefused(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	ctx := context.Background()
	st := env.Srv.Chat().Store()
	evil, err := st.CreateUser(ctx, store.NewUser{Username: formulaUsername, DisplayName: "@SUM(1+1)", Role: "user", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	session := idOf(admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture"}))
	conv := idOf(admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "+Group", "kind": "group"}))
	admin.Must(201, "POST", fmt.Sprintf("/api/v1/conversations/%d/members", conv), map[string]any{"user_id": evil.ID})
	for i, body := range []string{"-2+3", "\tx", "=HYPERLINK(\"http://x\")"} {
		res := st.AppendMessages(ctx, []store.Append{{ConversationID: conv, SenderID: evil.ID, ClientID: fmt.Sprintf("c%d", i), Body: body}})
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
	}

	var cliOut bytes.Buffer
	if err := cli.ExportCSV(ctx, st, conv, &cliOut); err != nil {
		t.Fatal(err)
	}
	exports := map[string]string{
		"participation":         string(admin.Must(200, "GET", "/api/v1/participation?format=csv", nil).Body),
		"transcript":            string(admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=csv", conv), nil).Body),
		"session transcript":    string(admin.Must(200, "GET", fmt.Sprintf("/api/v1/sessions/%d/transcript?format=csv", session), nil).Body),
		"teamchat export (csv)": cliOut.String(),
	}
	for name, body := range exports {
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%s: %v\n%s", name, err, body)
		}
		header := recs[0]
		for _, row := range recs[1:] {
			for i, cell := range row {
				if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
					t.Errorf("%s: column %s is a formula: %q", name, header[i], cell)
				}
			}
		}
		col := slices.Index(header, "sender_username")
		if col < 0 {
			col = slices.Index(header, "username")
		}
		found := false
		for _, row := range recs[1:] {
			found = found || row[col] == "'"+formulaUsername
		}
		if !found {
			t.Errorf("%s: no row shows the username as text in %s:\n%s", name, header[col], body)
		}
	}
}
