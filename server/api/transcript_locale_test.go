package api_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"teamchat/server/servertest"
)

// The printable transcripts speak the reader's language, in the reader's time
// zone, with the chat's role names and the language's plural rules; JSON and
// CSV stay data (codes, UTC).

func TestPrintableTranscriptFollowsTheReader(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	stu := env.AddUser("stu", "user")
	conv := idOf(admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Lab", "member_ids": []int64{stu.ID()}}))
	sent := admin.Must(201, "POST", msgsPath(conv), map[string]any{"body": "welcome"}).JSON()
	created, err := time.Parse(time.RFC3339Nano, sent["created_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	page := func(query string) string {
		t.Helper()
		return string(admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=html&%s", conv, query), nil).Body)
	}

	// Default: English, the chat's "professor" (never "staff"), one message in the singular.
	en := page("tz=UTC")
	for _, want := range []string{`<html lang="en" dir="ltr">`, "(@prof, professor)", "· 1 message ·", created.UTC().Format("2006-01-02 15:04:05 UTC")} {
		if !strings.Contains(en, want) {
			t.Errorf("English page lacks %q:\n%s", want, en)
		}
	}
	if strings.Contains(en, "staff") || strings.Contains(en, "1 messages") {
		t.Errorf("English page says staff or 1 messages:\n%s", en)
	}

	// The reader's zone: the same instant in Tokyo time (UTC+9, no summer time).
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if p := page("tz=Asia/Tokyo"); !strings.Contains(p, created.In(tokyo).Format("2006-01-02 15:04:05")+" JST") {
		t.Errorf("Tokyo page lacks the Tokyo time %s:\n%s", created.In(tokyo).Format("15:04:05 JST"), p)
	}

	// German, by parameter and by Accept-Language; the role word of the German chat.
	de := page("lang=de-AT&tz=Europe/Berlin")
	for _, want := range []string{`<html lang="de" dir="ltr">`, "Verlauf der Unterhaltung", "(@prof, Lehrkraft)", "· 1 Nachricht ·", "exportiert "} {
		if !strings.Contains(de, want) {
			t.Errorf("German page lacks %q:\n%s", want, de)
		}
	}
	admin.Header.Set("Accept-Language", "fr-CH, en;q=0.5")
	if p := page("tz=UTC"); !strings.Contains(p, `<html lang="fr" dir="ltr">`) || !strings.Contains(p, "(@prof, professeur)") {
		t.Errorf("Accept-Language fr did not give French:\n%s", p)
	}
	admin.Header.Del("Accept-Language")

	// Arabic: right to left, and its plural forms (one, two, few).
	wantAr := map[int]string{1: "رسالة واحدة", 2: "رسالتان", 3: "3 رسائل"}
	for n := 1; n <= 3; n++ {
		if n > 1 {
			stu.Must(201, "POST", msgsPath(conv), map[string]any{"body": fmt.Sprintf("reply %d", n)})
		}
		ar := page("lang=ar&tz=UTC")
		if !strings.Contains(ar, `<html lang="ar" dir="rtl">`) || !strings.Contains(ar, "· "+wantAr[n]+" ·") || !strings.Contains(ar, "(@prof, معلّم)") {
			t.Errorf("Arabic page with %d messages lacks %q:\n%s", n, wantAr[n], ar)
		}
	}

	// A language we do not ship is English; a zone that does not exist is refused.
	if p := page("lang=zz&tz=UTC"); !strings.Contains(p, `lang="en"`) {
		t.Errorf("unknown language: %s", p)
	}
	for _, tz := range []string{"Mars/Olympus", "Local", "../../etc/passwd"} {
		r := admin.Do("GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=html&tz=%s", conv, tz), nil)
		if r.Status != 400 || r.ErrCode() == "" {
			t.Errorf("tz=%s: %d %s", tz, r.Status, r.Body)
		}
	}

	// CSV keeps codes and UTC whatever the reader.
	csv := string(admin.Must(200, "GET", fmt.Sprintf("/api/v1/conversations/%d/transcript?format=csv&lang=de&tz=Asia/Tokyo", conv), nil).Body)
	if !strings.Contains(csv, ",admin,welcome,") || !regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`).MatchString(csv) {
		t.Errorf("csv changed with the reader:\n%s", csv)
	}
}

func TestPrintableSessionTranscriptPlurals(t *testing.T) {
	env := servertest.Start(t)
	admin := env.AddUser("prof", "admin")
	sess := admin.Must(201, "POST", "/api/v1/sessions", map[string]any{"name": "Lecture 1"}).JSON()
	id := int64(sess["id"].(float64))
	conv := idOf(admin.Must(201, "POST", "/api/v1/conversations", map[string]any{"name": "Q&A"}))
	admin.Must(201, "POST", msgsPath(conv), map[string]any{"body": "first"})
	admin.Must(200, "POST", fmt.Sprintf("/api/v1/sessions/%d/end", id), nil)

	page := string(admin.Must(200, "GET", fmt.Sprintf("/api/v1/sessions/%d/transcript?format=html&tz=UTC", id), nil).Body)
	if !strings.Contains(page, "· 1 conversation · 1 message ·") || strings.Contains(page, "1 conversations") {
		t.Errorf("session page plurals:\n%s", page)
	}
	fr := string(admin.Must(200, "GET", fmt.Sprintf("/api/v1/sessions/%d/transcript?format=html&lang=fr&tz=UTC", id), nil).Body)
	if !strings.Contains(fr, "Transcription de la séance") || !strings.Contains(fr, "1 conversation · 1 message") {
		t.Errorf("French session page:\n%s", fr)
	}
	if r := admin.Do("GET", fmt.Sprintf("/api/v1/sessions/%d/transcript?format=html&tz=Nowhere/City", id), nil); r.Status != 400 {
		t.Errorf("bad tz on the session transcript: %d %s", r.Status, r.Body)
	}
}
