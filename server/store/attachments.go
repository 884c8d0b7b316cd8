package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"teamchat/server/model"
)

// InlineType reports whether content of this type (judged from the bytes) is
// shown in the page: PNG, JPEG, GIF and WebP only.
func InlineType(contentType string) bool {
	switch contentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// AttachmentModel is the one conversion of a stored attachment to its wire
// object (uploads, serving and messages all use it).
func AttachmentModel(id int64, name, contentType string, size int64, width, height int, thumbnail bool) model.Attachment {
	url := "/api/v1/attachments/" + strconv.FormatInt(id, 10)
	a := model.Attachment{
		ID: id, Name: name, ContentType: contentType, Size: size,
		Width: width, Height: height, Inline: InlineType(contentType), URL: url,
	}
	if thumbnail {
		a.ThumbnailURL = url + "/thumbnail"
	}
	return a
}

// AttachmentRecord is an attachments row with what serving it needs to know.
type AttachmentRecord struct {
	ID             int64
	UploaderID     int64
	ConversationID int64 // the conversation it was uploaded for (its message's, once used)
	MessageID      int64 // 0 while no message uses it
	MessageDeleted bool
	Hash           string
	Name           string
	ContentType    string
	Size           int64
	Width, Height  int
	Thumbnail      bool
	CreatedAt      int64 // unix ms
}

// Model is the record's wire object.
func (r AttachmentRecord) Model() model.Attachment {
	return AttachmentModel(r.ID, r.Name, r.ContentType, r.Size, r.Width, r.Height, r.Thumbnail)
}

// NewAttachment is an uploaded file, already on disk, to record.
type NewAttachment struct {
	UploaderID     int64
	ConversationID int64
	Hash           string
	Name           string
	ContentType    string
	Size           int64
	Width, Height  int
	Thumbnail      bool
	QuotaBytes     int64 // the uploader's attachments may not add up to more
}

// querier is what both a transaction and the reader pool offer.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writeRefusal applies, for userID in convID, the rules that refuse a write
// other than sending (uploads, edits, reactions): membership (admins need none), the class pause (admins
// exempt) and the user's mute (admins and owners exempt), with the messages of
// sending.
func writeRefusal(ctx context.Context, q querier, convID, userID int64) error {
	var role string
	if err := q.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, userID).Scan(&role); err != nil {
		if err == sql.ErrNoRows {
			return &model.Error{Kind: model.ErrUnauthorized, Msg: "account not found"}
		}
		return err
	}
	if role == model.RoleAdmin {
		return nil
	}
	var memberRole string
	switch err := q.QueryRowContext(ctx, `SELECT role FROM conversation_members WHERE conversation_id = ? AND user_id = ?`,
		convID, userID).Scan(&memberRole); err {
	case nil:
	case sql.ErrNoRows:
		return model.NotFound("conversation")
	default:
		return err
	}
	var paused string
	switch err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, SettingPaused).Scan(&paused); err {
	case nil, sql.ErrNoRows:
	default:
		return err
	}
	if paused == "true" {
		return model.Forbidden(MsgPaused)
	}
	if memberRole == model.MemberOwner {
		return nil
	}
	var until int64
	switch err := q.QueryRowContext(ctx, `SELECT until FROM mutes WHERE conversation_id = ? AND user_id = ? AND until > ?`,
		convID, userID, now()).Scan(&until); err {
	case nil:
		return model.Forbidden("%s%s", msgMutedPrefix, FormatTime(until))
	case sql.ErrNoRows:
		return nil
	default:
		return err
	}
}

// WriteRefusal is the domain error that refuses userID's upload, edit or
// reaction in convID now (not a member, class paused, muted), or nil.
// InsertAttachment checks it again in its transaction.
func (s *Store) WriteRefusal(ctx context.Context, convID, userID int64) error {
	if err := writeRefusal(ctx, s.r, convID, userID); err != nil {
		return mapErr(err)
	}
	return nil
}

// QuotaExceeded is the client-safe refusal of an upload over the quota.
func QuotaExceeded(quotaBytes int64) error {
	return model.TooLarge("this upload would exceed your upload quota of %d MiB: delete messages with files to free space", quotaBytes>>20)
}

// UnusableAttachment is the contract's one refusal of an attachment id a
// message cannot carry: unknown, another user's, for another conversation,
// already used by a message (this one included), or gone. One text for all,
// so it tells nobody which of these it was.
func UnusableAttachment(id int64) error {
	return model.Invalid("attachment %d cannot be used here", id)
}

// InsertAttachment records an uploaded file (whose blob is already on disk) in
// one transaction that re-checks the upload rules and the uploader's quota:
// the sizes of all their attachments, this one included, may not exceed
// a.QuotaBytes (else a model.ErrTooLarge error).
func (s *Store) InsertAttachment(ctx context.Context, a NewAttachment) (AttachmentRecord, error) {
	rec := AttachmentRecord{UploaderID: a.UploaderID, ConversationID: a.ConversationID, Hash: a.Hash, Name: a.Name,
		ContentType: a.ContentType, Size: a.Size, Width: a.Width, Height: a.Height, Thumbnail: a.Thumbnail, CreatedAt: now()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := writeRefusal(ctx, tx, a.ConversationID, a.UploaderID); err != nil {
			return err
		}
		var used int64
		if err := tx.QueryRow(`SELECT COALESCE(SUM(size), 0) FROM attachments WHERE uploader_id = ?`, a.UploaderID).Scan(&used); err != nil {
			return err
		}
		if used+a.Size > a.QuotaBytes {
			return QuotaExceeded(a.QuotaBytes)
		}
		return tx.QueryRow(`INSERT INTO attachments (uploader_id, conversation_id, hash, name, content_type, size, width, height, thumbnail, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			a.UploaderID, a.ConversationID, a.Hash, a.Name, a.ContentType, a.Size, a.Width, a.Height, boolInt(a.Thumbnail), rec.CreatedAt).Scan(&rec.ID)
	})
	if err != nil {
		return AttachmentRecord{}, fmt.Errorf("store: insert attachment: %w", err)
	}
	return rec, nil
}

// Attachment reads one attachment with whether its message is deleted; its
// ConversationID is its message's conversation once a message uses it.
func (s *Store) Attachment(ctx context.Context, id int64) (AttachmentRecord, error) {
	var r AttachmentRecord
	var deleted, thumb int
	err := s.r.QueryRowContext(ctx, `SELECT a.id, a.uploader_id, COALESCE(m.conversation_id, a.conversation_id), COALESCE(a.message_id, 0),
			COALESCE(m.deleted, 0), a.hash, a.name, a.content_type, a.size, a.width, a.height, a.thumbnail, a.created_at
		FROM attachments a LEFT JOIN messages m ON m.id = a.message_id WHERE a.id = ?`, id).
		Scan(&r.ID, &r.UploaderID, &r.ConversationID, &r.MessageID, &deleted, &r.Hash, &r.Name, &r.ContentType,
			&r.Size, &r.Width, &r.Height, &thumb, &r.CreatedAt)
	if err != nil {
		return r, mapErr(fmt.Errorf("store: attachment %d: %w", id, err))
	}
	r.MessageDeleted = deleted != 0
	r.Thumbnail = thumb != 0
	return r, nil
}

// AttachmentHashInUse reports whether any attachment row refers to the blob.
func (s *Store) AttachmentHashInUse(ctx context.Context, hash string) (bool, error) {
	var used bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM attachments WHERE hash = ?)`, hash).Scan(&used); err != nil {
		return false, fmt.Errorf("store: attachment hash: %w", err)
	}
	return used, nil
}

// DeleteStaleAttachments deletes the attachments no message used that were
// uploaded before unusedBefore (unix ms), and those whose message is deleted.
// It returns how many rows went.
func (s *Store) DeleteStaleAttachments(ctx context.Context, unusedBefore int64) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM attachments WHERE (message_id IS NULL AND created_at < ?)
			OR message_id IN (SELECT id FROM messages WHERE deleted <> 0)`, unusedBefore)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete stale attachments: %w", err)
	}
	return n, nil
}

// AttachmentUsage is the sum of the sizes of userID's attachments, in bytes.
func (s *Store) AttachmentUsage(ctx context.Context, userID int64) (int64, error) {
	var used int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM attachments WHERE uploader_id = ?`, userID).Scan(&used); err != nil {
		return 0, fmt.Errorf("store: attachment usage: %w", err)
	}
	return used, nil
}
