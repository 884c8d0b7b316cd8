package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"teamchat/server/chat"
	"teamchat/server/files"
)

// MaxUploadBody caps an upload's body before the settings are read: the
// largest max_upload_mib there can be (100 MiB), plus the byte that tells a
// file over it. The handler then applies the current setting.
const MaxUploadBody = 100<<20 + 1

// uploadPath is the one route whose body may exceed MaxBody.
const uploadPath = "/api/v1/attachments"

// bodyLimit is the cap the middleware puts on r's body.
func bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && r.URL.Path == uploadPath {
		return MaxUploadBody
	}
	return MaxBody
}

func (a *API) attachmentRoutes() []route {
	return []route{
		{"POST " + uploadPath, a.signedIn(a.uploadAttachment)},
		{"GET /api/v1/attachments/{id}", a.signedIn(a.serveAttachment(false))},
		{"GET /api/v1/attachments/{id}/thumbnail", a.signedIn(a.serveAttachment(true))},
	}
}

// uploadAttachment: POST /attachments?conversation_id=&name=, the body is the file.
func (a *API) uploadAttachment(w http.ResponseWriter, r *http.Request, c caller) error {
	conv, err := queryInt(r, "conversation_id")
	if err != nil {
		return err
	}
	if conv == nil || *conv == 0 {
		return badRequest("conversation_id: required")
	}
	permit, err := a.chat.UploadAllowed(r.Context(), c.user, *conv)
	if err != nil {
		return err
	}
	maxBytes := permit.MaxBytes
	if r.ContentLength > maxBytes {
		return chat.TooLargeUpload(maxBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes+1)
	att, err := a.chat.Upload(r.Context(), permit, r.URL.Query().Get("name"), r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return chat.TooLargeUpload(maxBytes)
		case errors.Is(err, files.ErrRead):
			return badRequest("could not read the file: the upload was cut short")
		}
		return err
	}
	writeJSON(w, http.StatusCreated, att)
	return nil
}

// attachmentCacheControl keeps files and thumbnails out of the browser's
// cache altogether. Classrooms share lab computers: a cached copy would stay
// on disk after its message is deleted (the server answers 404 at once, the
// cache would not ask) and after sign-out. Clear-Site-Data on sign-out helps
// only in a secure context (HTTPS or localhost), and a class on plain HTTP is
// not one, so not storing is the only rule that holds everywhere. The cost is
// a new download when a file is shown again in a later page load (an image
// shown twice in one page is decoded once); thumbnails are at most 320 px.
const attachmentCacheControl = "private, no-store"

// clearCacheOnSignOut marks the sign-out answer, whatever its status (an
// expired session is signed out too), so the browser drops what it cached
// for this origin, should anything have been cached.
func clearCacheOnSignOut(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Clear-Site-Data", `"cache"`)
		h(w, r)
	}
}

// serveAttachment: GET /attachments/{id} (the file) and /attachments/{id}/thumbnail.
func (a *API) serveAttachment(thumbnail bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		f, err := a.chat.Attachment(r.Context(), c.user, id)
		if err != nil {
			return err
		}
		file, err := a.chat.OpenAttachment(f, thumbnail)
		if err != nil {
			return err
		}
		defer file.Close()
		att := f.Attachment
		contentType, disposition, name, etag := att.ContentType, "attachment", chat.DownloadName(att.Name), `"`+f.Hash+`"`
		if thumbnail {
			contentType, disposition, etag = "image/jpeg", "inline", `"`+f.Hash+`.thumb"`
			name = strings.TrimSuffix(name, pathExt(name)) + ".thumbnail.jpg"
		} else if att.Inline && !forceDownload(r) {
			disposition = "inline"
		}
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Disposition", ContentDisposition(disposition, name))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
		h.Set("Cache-Control", attachmentCacheControl)
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("ETag", etag)
		http.ServeContent(&rangeErrorWriter{ResponseWriter: w}, r, "", f.Created, file)
		return nil
	}
}

func forceDownload(r *http.Request) bool {
	switch r.URL.Query().Get("download") {
	case "1", "true":
		return true
	}
	return false
}

func pathExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// ContentDisposition builds the header for a file name: an ASCII fallback in
// filename= and the exact UTF-8 name in filename*= (RFC 6266, RFC 5987).
func ContentDisposition(kind, name string) string {
	var ascii, enc strings.Builder
	for _, r := range name {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			ascii.WriteRune(r)
		} else {
			ascii.WriteByte('_')
		}
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if isAttrChar(b) {
			enc.WriteByte(b)
		} else {
			fmt.Fprintf(&enc, "%%%02X", b)
		}
	}
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, kind, ascii.String(), enc.String())
}

// isAttrChar is RFC 5987's attr-char.
func isAttrChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

// rangeErrorWriter turns http.ServeContent's plain-text refusals (416 for a
// range outside the file, 412 for a failed precondition) into the error envelope.
type rangeErrorWriter struct {
	http.ResponseWriter
	failed bool
}

func (e *rangeErrorWriter) WriteHeader(status int) {
	if status < 400 {
		e.ResponseWriter.WriteHeader(status)
		return
	}
	e.failed = true
	h := e.Header()
	h.Del("Content-Disposition")
	h.Del("Content-Length")
	h.Del("ETag")
	code, msg := "bad_request", "the requested range is not satisfiable"
	if status == http.StatusPreconditionFailed {
		code, msg = "conflict", "the file does not match the request's precondition"
	}
	writeErrorCode(e.ResponseWriter, status, code, msg)
}

func (e *rangeErrorWriter) Write(b []byte) (int, error) {
	if e.failed {
		return len(b), nil // ServeContent's plain-text body is replaced by the envelope
	}
	return e.ResponseWriter.Write(b)
}
