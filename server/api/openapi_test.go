package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"teamchat/docs"
	"teamchat/server/api"
	"teamchat/server/servertest"
)

// Every HTTP answer of every test in this package goes through the validator:
// the document (docs/openapi.yaml) cannot drift from what the server says.
func TestMain(m *testing.M) {
	v, err := newOpenAPIValidator()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi.yaml:", err)
		os.Exit(1)
	}
	servertest.Transport = v
	frames, err := loadFrameSchemas()
	if err != nil {
		fmt.Fprintln(os.Stderr, "asyncapi.yaml:", err)
		os.Exit(1)
	}
	servertest.CheckFrame = func(data []byte) {
		if _, err := frames.check("send", data); err != nil {
			v.record(err.Error())
		}
	}
	code := m.Run()
	if fails := v.failures(); len(fails) > 0 {
		fmt.Fprintf(os.Stderr, "%d answers or frames did not match docs/openapi.yaml or docs/asyncapi.yaml:\n", len(fails))
		for _, f := range fails {
			fmt.Fprintln(os.Stderr, "  "+f)
		}
		code = 1
	}
	if os.Getenv("TEAMCHAT_OPENAPI_COVERAGE") != "" {
		v.printCoverage(os.Stderr)
	}
	os.Exit(code)
}

func loadOpenAPI(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid: %w", err)
	}
	return doc, nil
}

type openAPIValidator struct {
	doc    *openapi3.T
	router routers.Router
	base   http.RoundTripper

	mu   sync.Mutex
	bad  []string
	seen map[string]bool // "METHOD /path status" validated at least once
}

func newOpenAPIValidator() (*openAPIValidator, error) {
	doc, err := loadOpenAPI(docs.OpenAPIYAML)
	if err != nil {
		return nil, err
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, errors.New("want an OpenAPI 3.1 document")
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &openAPIValidator{doc: doc, router: r, base: http.DefaultTransport, seen: map[string]bool{}}, nil
}

func (v *openAPIValidator) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := v.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(data))
	if problem := v.check(req, res, data); problem != "" {
		v.record(problem)
		return nil, errors.New(problem)
	}
	return res, nil
}

func (v *openAPIValidator) record(problem string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.bad = append(v.bad, problem)
}

func (v *openAPIValidator) failures() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.bad...)
}

// checkEnvelope validates an answer that no operation describes (unknown path,
// wrong method, unknown Host) against the error envelope.
func (v *openAPIValidator) checkEnvelope(data []byte) error {
	var body any
	if err := json.Unmarshal(data, &body); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return v.doc.Components.Schemas["Error"].Value.VisitJSON(body, openapi3.EnableJSONSchema2020())
}

// check returns "" when the answer matches the document, else what is wrong.
func (v *openAPIValidator) check(req *http.Request, res *http.Response, data []byte) string {
	p := req.URL.Path
	if !strings.HasPrefix(p, "/api/") && p != "/healthz" {
		return "" // the web client's files
	}
	what := fmt.Sprintf("response of %s %s status %d", req.Method, p, res.StatusCode)
	if res.StatusCode == http.StatusMisdirectedRequest { // any route: the Host check runs first (info.description)
		if err := v.checkEnvelope(data); err != nil {
			return what + " is not the error envelope: " + err.Error()
		}
		return ""
	}
	route, params, err := v.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound), errors.Is(err, routers.ErrMethodNotAllowed):
		want := http.StatusNotFound
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			want = http.StatusMethodNotAllowed
		}
		if res.StatusCode != want {
			return fmt.Sprintf("%s: %s %s is not in openapi.yaml (%v), so the server should answer %d", what, req.Method, p, err, want)
		}
		if err := v.checkEnvelope(data); err != nil {
			return what + " is not the error envelope: " + err.Error()
		}
		return ""
	case err != nil:
		return what + ": " + err.Error()
	}
	if res.StatusCode == http.StatusUnsupportedMediaType && route.Operation.RequestBody != nil || // any JSON body (info.description)
		res.StatusCode == http.StatusServiceUnavailable && req.Method != http.MethodGet { // any write while storage is unavailable
		if err := v.checkEnvelope(data); err != nil {
			return what + " is not the error envelope: " + err.Error()
		}
		return ""
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := err.Error()
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return fmt.Sprintf("response of %s %s (%s) status %d does not match openapi.yaml: %s; body: %.300s",
			req.Method, route.Path, p, res.StatusCode, msg, data)
	}
	v.mu.Lock()
	v.seen[fmt.Sprintf("%s %s %d", req.Method, route.Path, res.StatusCode)] = true
	v.mu.Unlock()
	return ""
}

// printCoverage lists the documented operations no test answer exercised.
func (v *openAPIValidator) printCoverage(w io.Writer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ops, hit, pairs := 0, 0, 0
	var missing []string
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			pairs += op.Responses.Len()
			found := false
			for k := range v.seen {
				if strings.HasPrefix(k, method+" "+path+" ") {
					found = true
					break
				}
			}
			if found {
				hit++
			} else {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	fmt.Fprintf(w, "openapi: %d of %d operations validated; %d of %d documented (operation, status) pairs answered; operations never answered: %v\n",
		hit, ops, len(v.seen), pairs, missing)
}

// documentedRoutes lists "METHOD /path" for every operation of the document.
func documentedRoutes(doc *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+path] = true
		}
	}
	return out
}

func TestOpenAPIHasEveryRouteAndNoOther(t *testing.T) {
	doc, err := loadOpenAPI(docs.OpenAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	inDoc := documentedRoutes(doc)
	inRouter := map[string]bool{}
	for _, p := range api.RoutesForTest() {
		inRouter[p] = true
	}
	for _, p := range sortedKeys(inRouter) {
		if !inDoc[p] {
			t.Errorf("route %s in router but not in openapi.yaml", p)
		}
	}
	for _, p := range sortedKeys(inDoc) {
		if !inRouter[p] {
			t.Errorf("route %s in openapi.yaml but not in router", p)
		}
	}
	t.Logf("%d routes in the router, %d operations in openapi.yaml", len(inRouter), len(inDoc))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The served JSON is the YAML source, converted, and a valid 3.1 document;
// the reference page is public and loads its scripts from this server only.
func TestOpenAPIIsServed(t *testing.T) {
	env := servertest.Start(t)
	c := env.Anon()
	r := c.Must(200, "GET", "/api/v1/openapi.json", nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	want, err := docs.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, want) {
		t.Fatal("served document differs from the embedded one")
	}
	doc, err := loadOpenAPI(r.Body)
	if err != nil {
		t.Fatalf("served JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths.Find("/api/v1/openapi.json") == nil {
		t.Fatalf("served JSON: openapi %q, paths %d", doc.OpenAPI, doc.Paths.Len())
	}
	fromYAML, err := loadOpenAPI(docs.OpenAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sortedKeys(documentedRoutes(doc))) != fmt.Sprint(sortedKeys(documentedRoutes(fromYAML))) ||
		len(doc.Components.Schemas) != len(fromYAML.Components.Schemas) {
		t.Fatal("the served JSON does not describe what the YAML does")
	}

	page := c.Must(200, "GET", "/api/docs", nil)
	if ct := page.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("page Content-Type %q", ct)
	}
	csp := page.Header.Get("Content-Security-Policy")
	for _, d := range []string{"script-src 'self';", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("page CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Errorf("page CSP %q allows inline or eval'd scripts", csp)
	}
	for _, src := range []string{`src="/api-docs/redoc.standalone.js"`, `src="/api-docs/reference.js"`} {
		if !bytes.Contains(page.Body, []byte(src)) {
			t.Errorf("page lacks %s", src)
		}
	}
	if bytes.Contains(page.Body, []byte("http://")) || bytes.Contains(page.Body, []byte("https://")) {
		t.Error("page refers to another host")
	}
}

// The validator fails on drift: a missing or extra field, an undocumented
// status, a path the document lacks.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	v, err := newOpenAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	user := `{"id":1,"username":"max","display_name":"Max","role":"user","created_at":"2026-11-29T09:30:00.123Z","disabled":false}`
	cases := []struct {
		method, path string
		status       int
		body         string
		want         string // "" = matches
	}{
		{"GET", "/api/v1/me", 200, user, ""},
		{"GET", "/api/v1/me", 200, strings.Replace(user, `"role":"user",`, "", 1), "does not match"},
		{"GET", "/api/v1/me", 200, strings.Replace(user, `"disabled":false`, `"disabled":false,"password_hash":"x"`, 1), "does not match"},
		{"GET", "/api/v1/me", 200, strings.Replace(user, `"role":"user"`, `"role":"root"`, 1), "does not match"},
		{"GET", "/api/v1/me", 418, `{"error":{"code":"internal","message":"x"}}`, "status 418 does not match openapi.yaml: status is not supported"},
		{"GET", "/api/v1/me", 401, `{"error":{"code":"nope","message":"x"}}`, "does not match"},
		{"GET", "/api/v1/nope", 200, `{}`, "is not in openapi.yaml"},
		{"GET", "/api/v1/nope", 404, `{"error":{"code":"not_found","message":"no such API path"}}`, ""},
		{"PUT", "/api/v1/me", 405, `{"error":{"code":"method_not_allowed","message":"x"}}`, ""},
		{"PUT", "/api/v1/me", 404, `{"error":{"code":"not_found","message":"x"}}`, "should answer 405"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "http://127.0.0.1:1"+c.path, nil)
		res := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
		got := v.check(req, res, []byte(c.body))
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s %s %d %s: got %q, want %q", c.method, c.path, c.status, c.body, got, c.want)
		}
	}
}
