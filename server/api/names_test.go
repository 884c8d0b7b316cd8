package api_test

import (
	"fmt"
	"strings"
	"testing"

	"teamchat/server/servertest"
)

// TestStudentNamesCannotImitateStaffOrClassmates: a name a student or guest
// chooses (sign-up, guest join, rename) may not carry a staff title, in the
// languages the look-alike folding covers, nor repeat another active
// account's name (by skeleton); admins may give titles, but not repeat names.
func TestStudentNamesCannotImitateStaffOrClassmates(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("ada", "admin")
	admin.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": "Ada Lovelace"})
	code := admin.Must(200, "GET", "/api/v1/settings", nil).JSON()["join_code"].(string)
	bob := env.AddUser("bob", "user")
	bob.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": "Bob Brown"})
	stu := env.AddUser("stu", "user")

	refused := func(what, name string, r servertest.Resp) {
		t.Helper()
		if r.Status != 400 || r.ErrCode() != "bad_request" || !strings.Contains(r.JSON()["error"].(map[string]any)["message"].(string), "display_name") {
			t.Errorf("%s %q: %d %s", what, name, r.Status, r.Body)
		}
	}
	n := 0
	register := func(name string) servertest.Resp {
		n++
		return env.Anon().Do("POST", "/api/v1/auth/register", map[string]any{"username": fmt.Sprintf("new%d", n), "password": "long enough pw", "display_name": name, "join_code": code})
	}
	guest := func(name string) servertest.Resp {
		return env.Anon().Do("POST", "/api/v1/auth/guest", map[string]any{"display_name": name, "join_code": code})
	}
	for _, name := range []string{
		// staff titles anywhere in the name
		"Professor Smith", "Team Chat admin", "TeamChat Support", "Dr. Who", "ProfSmith", "TA Jane", "Jane (Moderator)",
		"Mr Administrator", "Ad Min", "P.R.O.F. X", "Аdmіn Team", "Teacher\u200b Tom", "ｐｒｏｆ Kim", "Prôf Kim",
		"Lehrer Müller", "Professeur Martin", "Profesora López", "Преподаватель Иван", "Учитель", "Καθηγητής Νίκος",
		// a classmate's or the professor's name
		"bob brown", "BOB  BROWN", "Böb Brówn", "Bоb Brоwn", "Bob\u200b Brown", "B.O.B. Brown", "Ada Lovelace", "ada lovelace!",
	} {
		refused("register", name, register(name))
		refused("guest", name, guest(name))
		refused("rename", name, stu.Do("PATCH", "/api/v1/me", map[string]any{"display_name": name}))
	}
	// Ordinary names that contain or resemble a title pass.
	for _, name := range []string{"Ta Minh", "Professional Pete", "Drew Model", "Modesty Blaise", "Bob Browning", "Admiral Grace", "Teachout Lee", "Doctorow Fan"} {
		if r := register(name); r.Status != 201 {
			t.Errorf("register %q: %d %s", name, r.Status, r.Body)
		}
		if r := stu.Do("PATCH", "/api/v1/me", map[string]any{"display_name": name + " 2"}); r.Status != 200 {
			t.Errorf("rename %q: %d %s", name, r.Status, r.Body)
		}
	}
	// Renaming oneself to one's own name in other letters is fine.
	bob.Must(200, "PATCH", "/api/v1/me", map[string]any{"display_name": "BOB BROWN"})

	// Two guests cannot both be "Anna K"; once the first can no longer sign in, the name is free.
	anna := guest("Anna K")
	if anna.Status != 201 {
		t.Fatalf("guest Anna K: %d %s", anna.Status, anna.Body)
	}
	refused("second guest", "anna  k", guest("anna  k"))
	annaID := int64(anna.JSON()["user"].(map[string]any)["id"].(float64))
	admin.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", annaID), map[string]any{"disabled": true})
	if r := guest("anna k"); r.Status != 201 {
		t.Errorf("guest after the first was disabled: %d %s", r.Status, r.Body)
	}

	// Admins may give a title, not another account's name.
	admin.Must(201, "POST", "/api/v1/users", map[string]any{"username": "ta_jane", "password": "long enough pw", "display_name": "TA Jane", "role": "user"})
	refused("admin create", "Bob  Brown", admin.Do("POST", "/api/v1/users", map[string]any{"username": "bob2", "password": "long enough pw", "display_name": "Bob  Brown", "role": "user"}))
	refused("admin rename", "bob brown", admin.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", stu.ID()), map[string]any{"display_name": "bob brown"}))
	admin.Must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", stu.ID()), map[string]any{"display_name": "Prof. Stu (TA)"})
}
