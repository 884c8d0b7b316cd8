package api_test

import (
	"fmt"
	"testing"
	"time"

	"teamchat/server/servertest"
)

const (
	msgPairOff   = "direct messages are turned off in this class, and a group of two students is one: add a third member or a member of staff"
	msgPairStaff = "in this class you can send direct messages only to staff, and a group of two students is a direct message: add a member of staff"
)

// TestGroupPolicyAndPairsOfStudents: group_policy says who may create
// groups; unless direct messages are open to anyone, a group whose enabled
// members are two students (no admin) is a direct conversation by another
// name: it cannot be created or made by a student, and nobody but an admin
// posts in it, over REST and WebSocket alike.
func TestGroupPolicyAndPairsOfStudents(t *testing.T) {
	c := newModClass(t)
	set := c.admin.Must(200, "GET", "/api/v1/settings", nil).JSON()
	if set["group_policy"] != "anyone" {
		t.Fatalf("default group_policy: %v", set["group_policy"])
	}
	if r := c.admin.Do("PATCH", "/api/v1/settings", map[string]any{"group_policy": "teachers"}); r.Status != 400 {
		t.Fatalf("group_policy teachers: %d %s", r.Status, r.Body)
	}
	c.stu.Must(403, "PATCH", "/api/v1/settings", map[string]any{"group_policy": "anyone"})
	settings := func(kv map[string]any) { c.admin.Must(200, "PATCH", "/api/v1/settings", kv) }
	group := func(who *servertest.Client, name string, members ...int64) servertest.Resp {
		return who.Do("POST", "/api/v1/conversations", map[string]any{"name": name, "member_ids": members})
	}
	refused := func(what string, r servertest.Resp, msg string) {
		t.Helper()
		if r.Status != 403 || r.ErrCode() != "forbidden" || errMsg(r) != msg {
			t.Errorf("%s: %d %s, want 403 %q", what, r.Status, r.Body, msg)
		}
	}
	ws := c.stu.DialWS()
	posts := func(conv int64, wantMsg string) {
		t.Helper()
		r := c.stu.Do("POST", msgsPath(conv), map[string]any{"body": "psst"})
		f := sendResult(t, ws, conv, fmt.Sprintf("g-%d-%d", conv, time.Now().UnixNano()), "psst")
		if wantMsg == "" {
			if r.Status != 201 || f.Type() != "ack" {
				t.Errorf("post into %d: %d %s / %v", conv, r.Status, r.Body, f)
			}
			return
		}
		if r.Status != 403 || errMsg(r) != wantMsg || f["code"] != "forbidden" || f["message"] != wantMsg {
			t.Errorf("post into %d: %d %s / %v, want %q", conv, r.Status, r.Body, f, wantMsg)
		}
	}

	// Under dm_policy anyone a pair is just a group.
	pair := idOf(c.stu.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Us", "member_ids": []int64{c.stu2ID}}))
	posts(pair, "")

	settings(map[string]any{"dm_policy": "none"})
	refused("a student creating a group of two", group(c.stu, "Just us", c.stu2ID), msgPairOff)
	refused("…with itself listed too", group(c.stu, "Just us", c.stuID, c.stu2ID, c.stu2ID), msgPairOff)
	posts(pair, msgPairOff) // the one made before the policy changed
	posts(c.g2, msgPairOff) // own2 and stu: the same thing
	c.stu2.Must(403, "POST", msgsPath(pair), map[string]any{"body": "me neither"})
	c.admin.Must(201, "POST", msgsPath(pair), map[string]any{"body": "admins are never limited"})
	// Three students, or a member of staff, make a group.
	trio := idOf(group(c.stu, "Trio", c.stu2ID, c.outsideID))
	posts(trio, "")
	withStaff := idOf(group(c.stu, "Office hour", c.adminID))
	posts(withStaff, "")
	// A student cannot make a pair by adding one person to a group of one…
	solo := idOf(group(c.stu, "Solo"))
	posts(solo, "")
	refused("adding the second student", c.stu.Do("POST", convPath(solo)+"/members", map[string]any{"user_id": c.stu2ID}), msgPairOff)
	// …and when a trio shrinks to two, posts stop.
	c.outsider.Must(204, "DELETE", fmt.Sprintf("%s/members/%d", convPath(trio), c.outsideID), nil)
	posts(trio, msgPairOff)
	// A disabled third member does not count.
	quad := idOf(group(c.stu, "Quad", c.stu2ID, c.own1ID))
	posts(quad, "")
	c.admin.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", c.own1ID), map[string]any{"disabled": true})
	posts(quad, msgPairOff)

	settings(map[string]any{"dm_policy": "staff"})
	refused("a group of two under staff", group(c.stu, "Just us", c.stu2ID), msgPairStaff)
	posts(pair, msgPairStaff)
	posts(withStaff, "")

	settings(map[string]any{"dm_policy": "anyone"})
	posts(pair, "")
	posts(trio, "")

	// group_policy staff: only admins create groups; direct messages follow dm_policy alone.
	settings(map[string]any{"group_policy": "staff"})
	refused("a student creating a group", group(c.stu, "Study group", c.stu2ID, c.outsideID), "in this class only staff can create groups")
	refused("a student creating a group alone", group(c.stu2, "Notes"), "in this class only staff can create groups")
	c.admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Lab 1", "member_ids": []int64{c.stuID, c.stu2ID}})
	c.stu.Must(201, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "member_ids": []int64{c.stu2ID}})
	posts(trio, "") // existing groups keep working

	var changed []any
	for _, e := range auditActions(t, c.admin, "settings.update") {
		if v, ok := e["details"].(map[string]any)["group_policy"]; ok {
			changed = append(changed, v)
		}
	}
	if fmt.Sprint(changed) != "[staff]" {
		t.Errorf("group_policy in the audit log: %v", changed)
	}
}
