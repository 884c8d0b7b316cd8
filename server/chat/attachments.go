package chat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"teamchat/server/files"
	"teamchat/server/model"
	"teamchat/server/store"
)

// Attachments no message uses are deleted after attachmentMaxAge; the sweeper
// runs at start and every attachmentSweepEvery.
const (
	attachmentMaxAge     = 24 * time.Hour
	attachmentSweepEvery = time.Hour
	maxFileNameRunes     = 200
)

// executableMagics are the leading bytes of programs: Windows PE, ELF,
// Mach-O (32/64-bit, both byte orders, universal) and scripts.
var executableMagics = [][]byte{
	[]byte("MZ"), []byte("\x7fELF"), []byte("#!"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe}, {0xbe, 0xba, 0xfe, 0xca}, {0xca, 0xfe, 0xba, 0xbf}, {0xbf, 0xba, 0xfe, 0xca},
}

// UploadPermit is what UploadAllowed grants: who may upload to which
// conversation, and the size limit of one file and the uploader's quota, in
// bytes, that held then. Upload takes one, so the checks run once per upload;
// InsertAttachment checks pause, mute and quota again when it commits.
type UploadPermit struct {
	actor                model.User
	convID               int64
	MaxBytes, QuotaBytes int64
}

// UploadAllowed checks, before any byte of the file is read, that the actor
// may upload to convID now (member or admin; not paused, not muted) and is
// within the upload rate (Options.UploadRate; else 429 with Retry-After).
func (s *Service) UploadAllowed(ctx context.Context, actor model.User, convID int64) (UploadPermit, error) {
	if err := s.uploads.allow(actor.ID); err != nil {
		return UploadPermit{}, err
	}
	if _, _, err := s.Authorize(ctx, actor, convID, ActPost); err != nil {
		return UploadPermit{}, err
	}
	if err := s.st.WriteRefusal(ctx, convID, actor.ID); err != nil {
		return UploadPermit{}, err
	}
	set, err := s.Settings(ctx)
	if err != nil {
		return UploadPermit{}, err
	}
	return UploadPermit{actor: actor, convID: convID,
		MaxBytes: int64(set.MaxUploadMiB) << 20, QuotaBytes: int64(set.UploadQuotaMiB) << 20}, nil
}

// userLimiter is a token bucket per user id: one per account, however many
// sockets, tabs, sessions or tokens the account uses.
type userLimiter struct {
	limit rate.Limit
	burst int

	mu     sync.Mutex
	byUser map[int64]*rate.Limiter
}

func newUserLimiter(limit rate.Limit, burst int) *userLimiter {
	return &userLimiter{limit: limit, burst: max(burst, 1), byUser: map[int64]*rate.Limiter{}}
}

// allow takes one token of userID's bucket, or says how long to wait.
func (l *userLimiter) allow(userID int64) error {
	if l.limit <= 0 {
		return nil
	}
	l.mu.Lock()
	b := l.byUser[userID]
	if b == nil {
		b = rate.NewLimiter(l.limit, l.burst)
		l.byUser[userID] = b
	}
	l.mu.Unlock()
	r := b.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return model.RateLimited(fmt.Sprintf("too many uploads: wait %d s", int(math.Ceil(d.Seconds()))), d)
	}
	return nil
}

// TooLargeUpload is the refusal of a file over the limit.
func TooLargeUpload(maxBytes int64) error {
	return model.TooLarge("files are limited to %d MiB", maxBytes>>20)
}

// SanitizeFileName keeps a file name safe to show and to save: its base name
// only, valid UTF-8 without control or bidirectional-override characters,
// without trailing dots and spaces, at most 200 characters (keeping the
// extension), never empty ("file").
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimRight(strings.TrimSpace(name), ". ")
	if utf8.RuneCountInString(name) > maxFileNameRunes {
		r := []rune(name)
		ext := []rune{}
		if i := strings.LastIndexByte(name, '.'); i > 0 && utf8.RuneCountInString(name[i:]) <= 16 {
			ext = []rune(name[i:])
		}
		name = strings.TrimRight(string(r[:maxFileNameRunes-len(ext)]), ". ") + string(ext)
	}
	if name == "" {
		return "file"
	}
	return name
}

func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// executableReason says why a file is refused as a program ("" when it is not).
func executableReason(head []byte, name string) string {
	for _, m := range executableMagics {
		if bytes.HasPrefix(head, m) {
			return "its content is a program or script"
		}
	}
	if ext := DangerousExt(name); ext != "" {
		return "names ending in " + ext + " are not accepted"
	}
	return ""
}

// DownloadName is the name a file is offered for saving under: its own, or,
// for a name that would run when opened (stored before the list of such
// names grew), that name with "_" appended, so the saved copy does not run.
func DownloadName(name string) string {
	if DangerousExt(name) != "" {
		return name + "_"
	}
	return name
}

// Upload stores a file for a message the permit's actor will send to its
// conversation. The type is judged from the bytes; the uploader's
// Content-Type is deliberately not used. Refused: an empty file or a program
// (400), over max_upload_mib or the quota (413); the permit holds the rest.
func (s *Service) Upload(ctx context.Context, p UploadPermit, name string, body io.Reader) (model.Attachment, error) {
	fst := s.opts.Files
	if fst == nil {
		return model.Attachment{}, errors.New("chat: upload: no blob store configured")
	}
	if p.convID == 0 {
		return model.Attachment{}, errors.New("chat: upload without a permit from UploadAllowed")
	}
	actor, convID, maxBytes, quotaBytes := p.actor, p.convID, p.MaxBytes, p.QuotaBytes
	name = SanitizeFileName(name)
	br := bufio.NewReaderSize(body, files.SniffLen)
	head, err := br.Peek(files.SniffLen)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return model.Attachment{}, fmt.Errorf("%w: %w", files.ErrRead, err)
	}
	if len(head) == 0 {
		return model.Attachment{}, model.Invalid("the file is empty")
	}
	if why := executableReason(head, name); why != "" {
		return model.Attachment{}, model.Invalid("programs cannot be uploaded: %s", why)
	}
	used, err := s.st.AttachmentUsage(ctx, actor.ID)
	if err != nil {
		return model.Attachment{}, err
	}
	if used >= quotaBytes {
		return model.Attachment{}, store.QuotaExceeded(quotaBytes)
	}
	hash, size, err := fst.Put(br, maxBytes)
	if errors.Is(err, files.ErrTooLarge) {
		return model.Attachment{}, TooLargeUpload(maxBytes)
	}
	if err != nil {
		return model.Attachment{}, err
	}
	a, err := s.recordUpload(ctx, actor, convID, name, hash, size, used, quotaBytes)
	fst.Release(hash) // its row is committed, or will never be
	if err != nil {
		s.removeUnusedBlob(ctx, hash)
		return model.Attachment{}, err
	}
	return a, nil
}

// recordUpload inspects a stored (pending) blob and records its row.
func (s *Service) recordUpload(ctx context.Context, actor model.User, convID int64, name, hash string, size, used, quotaBytes int64) (model.Attachment, error) {
	if used+size > quotaBytes {
		return model.Attachment{}, store.QuotaExceeded(quotaBytes)
	}
	info, err := s.opts.Files.Inspect(ctx, actor.ID, hash)
	if err != nil {
		return model.Attachment{}, err
	}
	rec, err := s.st.InsertAttachment(ctx, store.NewAttachment{
		UploaderID: actor.ID, ConversationID: convID, Hash: hash, Name: name, ContentType: info.ContentType,
		Size: size, Width: info.Width, Height: info.Height, Thumbnail: info.Thumbnail, QuotaBytes: quotaBytes,
	})
	if err != nil {
		return model.Attachment{}, err
	}
	return rec.Model(), nil
}

// removeUnusedBlob deletes the blob of a refused upload, unless a row (or
// another upload in progress) uses the same content.
func (s *Service) removeUnusedBlob(ctx context.Context, hash string) {
	var failed error
	_, err := s.opts.Files.RemoveIfUnused(hash, s.hashUsed(context.WithoutCancel(ctx), &failed))
	if err = errors.Join(err, failed); err != nil {
		s.log.Warn("removing the file of a refused upload failed", "err", err)
	}
}

// hashUsed asks the database whether a row refers to a blob; when it cannot
// tell, it answers true (keep) and records the error.
func (s *Service) hashUsed(ctx context.Context, failed *error) func(string) bool {
	return func(hash string) bool {
		used, err := s.st.AttachmentHashInUse(ctx, hash)
		if err != nil {
			*failed = errors.Join(*failed, err)
			return true
		}
		return used
	}
}

// AttachmentFile is an attachment the actor may download.
type AttachmentFile struct {
	Attachment model.Attachment
	Hash       string
	Created    time.Time
}

// Attachment authorizes a download: the file of a message that is not
// deleted, for those who may read its conversation; an unused upload, for its
// uploader. Anyone else gets 404.
func (s *Service) Attachment(ctx context.Context, actor model.User, id int64) (AttachmentFile, error) {
	notFound := model.NotFound("attachment")
	if actor.Disabled {
		return AttachmentFile{}, &model.Error{Kind: model.ErrUnauthorized, Msg: "account disabled"}
	}
	rec, err := s.st.Attachment(ctx, id)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return AttachmentFile{}, notFound
		}
		return AttachmentFile{}, err
	}
	if rec.MessageID == 0 {
		if rec.UploaderID != actor.ID {
			return AttachmentFile{}, notFound
		}
	} else {
		if rec.MessageDeleted {
			return AttachmentFile{}, notFound
		}
		if _, _, err := s.Authorize(ctx, actor, rec.ConversationID, ActRead); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return AttachmentFile{}, notFound
			}
			return AttachmentFile{}, err
		}
	}
	return AttachmentFile{Attachment: rec.Model(), Hash: rec.Hash, Created: time.UnixMilli(rec.CreatedAt)}, nil
}

// OpenAttachment opens an authorized attachment's file, or its thumbnail.
func (s *Service) OpenAttachment(f AttachmentFile, thumbnail bool) (*os.File, error) {
	if s.opts.Files == nil {
		return nil, errors.New("chat: no blob store configured")
	}
	var (
		file *os.File
		err  error
	)
	if thumbnail {
		if f.Attachment.ThumbnailURL == "" {
			return nil, model.NotFound("thumbnail")
		}
		file, err = s.opts.Files.OpenThumbnail(f.Hash)
	} else {
		file, err = s.opts.Files.Open(f.Hash)
	}
	if errors.Is(err, fs.ErrNotExist) { // swept since the check (its message was deleted)
		return nil, model.NotFound("attachment")
	}
	return file, err
}

// AttachmentSweep says what one sweep removed.
type AttachmentSweep struct {
	Rows int64 // attachments unused for too long, or of deleted messages
	files.SweepStats
}

// SweepAttachments deletes the attachments no message used that were
// uploaded before unusedBefore and those of deleted messages, then the files
// that no attachment uses any more and leftover temporary files.
func (s *Service) SweepAttachments(ctx context.Context, unusedBefore time.Time) (AttachmentSweep, error) {
	var out AttachmentSweep
	if s.opts.Files == nil {
		return out, nil
	}
	n, err := s.st.DeleteStaleAttachments(ctx, unusedBefore.UnixMilli())
	if err != nil {
		return out, err
	}
	out.Rows = n
	var failed error
	out.SweepStats, err = s.opts.Files.Sweep(s.hashUsed(ctx, &failed))
	return out, errors.Join(err, failed)
}

// attachmentLoop sweeps attachments at start and then every hour.
func (s *Service) attachmentLoop() {
	defer s.bg.Done()
	if s.opts.Files == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(attachmentSweepEvery)
	defer tick.Stop()
	for {
		res, err := s.SweepAttachments(ctx, time.Now().Add(-attachmentMaxAge))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("attachment sweep failed", "err", err)
		case res.Rows+int64(res.Temp+res.Blobs+res.Thumbnails) > 0:
			s.log.Info("attachments swept", "rows", res.Rows, "files", res.Blobs, "temporary", res.Temp, "thumbnails", res.Thumbnails)
		}
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}
