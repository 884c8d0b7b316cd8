package store

import (
	"context"
	"database/sql"
	"fmt"

	"teamchat/server/model"
)

// Questions (Q&A board): a question per row with its status, pin and inline
// answer; upvotes one row per user. The store keeps the whole truth (who
// asked); chat/questions.go decides who may see the asker.

// Question statuses.
const (
	QuestionOpen      = "open"
	QuestionAnswered  = "answered"
	QuestionDismissed = "dismissed"
	QuestionWithdrawn = "withdrawn"
)

// QuestionRecord is a stored question as staff see it.
type QuestionRecord struct {
	ID             int64       `json:"id"`
	ConversationID int64       `json:"conversation_id"`
	Asker          model.User  `json:"asker"`
	Body           string      `json:"body"`
	Anonymous      bool        `json:"anonymous"`
	Status         string      `json:"status"`
	Pinned         bool        `json:"pinned"`
	Answer         string      `json:"answer"`
	AnsweredBy     *model.User `json:"answered_by"`
	AnsweredAt     *model.Time `json:"answered_at"`
	Votes          int         `json:"votes"`
	CreatedAt      model.Time  `json:"created_at"`
}

const questionCols = `q.id, q.conversation_id, q.body, q.anonymous, q.status, q.pinned, q.answer, q.answered_at, q.created_at,
	(SELECT count(*) FROM question_votes v WHERE v.question_id = q.id),
	u.id, u.username, u.display_name, u.role, u.created_at, u.disabled,
	COALESCE(b.id, 0), COALESCE(b.username, ''), COALESCE(b.display_name, ''), COALESCE(b.role, ''), COALESCE(b.created_at, 0), COALESCE(b.disabled, 0)
	FROM questions q JOIN users u ON u.id = q.asker_id LEFT JOIN users b ON b.id = q.answered_by`

func scanQuestion(sc scanner) (QuestionRecord, error) {
	var q QuestionRecord
	var anon, pinned, udis, bdis int
	var answeredAt sql.NullInt64
	var created, ucreated, bcreated int64
	var b model.User
	err := sc.Scan(&q.ID, &q.ConversationID, &q.Body, &anon, &q.Status, &pinned, &q.Answer, &answeredAt, &created, &q.Votes,
		&q.Asker.ID, &q.Asker.Username, &q.Asker.DisplayName, &q.Asker.Role, &ucreated, &udis,
		&b.ID, &b.Username, &b.DisplayName, &b.Role, &bcreated, &bdis)
	if err != nil {
		return q, err
	}
	q.Anonymous, q.Pinned, q.CreatedAt = anon == 1, pinned == 1, model.Millis(created)
	q.Asker.CreatedAt, q.Asker.Disabled = model.Millis(ucreated), udis != 0
	if answeredAt.Valid {
		t := model.Millis(answeredAt.Int64)
		q.AnsweredAt = &t
	}
	if b.ID != 0 {
		b.CreatedAt, b.Disabled = model.Millis(bcreated), bdis != 0
		q.AnsweredBy = &b
	}
	return q, nil
}

func questionTx(ctx context.Context, q querier, id int64) (QuestionRecord, error) {
	r, err := scanQuestion(q.QueryRowContext(ctx, `SELECT `+questionCols+` WHERE q.id = ?`, id))
	if err == sql.ErrNoRows {
		return r, model.NotFound("question")
	}
	return r, err
}

// Question reads one question.
func (s *Store) Question(ctx context.Context, id int64) (QuestionRecord, error) {
	q, err := questionTx(ctx, s.r, id)
	if err != nil {
		return q, mapErr(err)
	}
	return q, nil
}

func queryQuestions(ctx context.Context, q rowsQuerier, where string, args ...any) ([]QuestionRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+questionCols+` WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []QuestionRecord{}
	for rows.Next() {
		r, err := scanQuestion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Questions lists a conversation's questions, oldest first, with the ids of
// those viewerID upvoted. withHidden adds the dismissed ones (staff);
// withdrawn questions are never listed.
func (s *Store) Questions(ctx context.Context, convID, viewerID int64, withHidden bool) ([]QuestionRecord, map[int64]bool, error) {
	where := `q.conversation_id = ? AND q.status IN ('open', 'answered')`
	if withHidden {
		where = `q.conversation_id = ? AND q.status <> 'withdrawn'`
	}
	list, err := queryQuestions(ctx, s.r, where+` ORDER BY q.id`, convID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: questions: %w", err)
	}
	voted := map[int64]bool{}
	rows, err := s.r.QueryContext(ctx, `SELECT v.question_id FROM question_votes v JOIN questions q ON q.id = v.question_id
		WHERE q.conversation_id = ? AND v.user_id = ?`, convID, viewerID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: questions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		voted[id] = true
	}
	return list, voted, rows.Err()
}

// AskQuestion stores a question after the rules of every write but sending
// (membership, the class pause, mutes) in the same transaction.
func (s *Store) AskQuestion(ctx context.Context, convID, userID int64, body string, anonymous bool) (QuestionRecord, error) {
	var q QuestionRecord
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := writeRefusal(ctx, tx, convID, userID); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(`INSERT INTO questions (conversation_id, asker_id, body, anonymous, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			convID, userID, body, boolInt(anonymous), now()).Scan(&id); err != nil {
			return err
		}
		var err error
		q, err = questionTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return q, fmt.Errorf("store: ask: %w", err)
	}
	return q, nil
}

// SetVote gives or takes back userID's upvote of an open or answered
// question, with the rules of writeRefusal in the same transaction; changed
// is false when it already was so.
func (s *Store) SetVote(ctx context.Context, questionID, userID int64, on bool) (q QuestionRecord, changed bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if q, err = questionTx(ctx, tx, questionID); err != nil {
			return err
		}
		if q.Status != QuestionOpen && q.Status != QuestionAnswered {
			return model.NotFound("question")
		}
		if err := writeRefusal(ctx, tx, q.ConversationID, userID); err != nil {
			return err
		}
		var res sql.Result
		if on {
			res, err = tx.Exec(`INSERT INTO question_votes (question_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, questionID, userID, now())
		} else {
			res, err = tx.Exec(`DELETE FROM question_votes WHERE question_id = ? AND user_id = ?`, questionID, userID)
		}
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed = n > 0
		q, err = questionTx(ctx, tx, questionID)
		return err
	})
	if err != nil {
		return q, false, fmt.Errorf("store: vote: %w", err)
	}
	return q, changed, nil
}

// QuestionPatch is what staff change: status (open, answered, dismissed),
// pin, and the inline answer (which marks the question answered).
type QuestionPatch struct {
	Status *string
	Pinned *bool
	Answer *string
}

// UpdateQuestion applies a staff change to a question that is not withdrawn.
func (s *Store) UpdateQuestion(ctx context.Context, questionID, by int64, p QuestionPatch) (QuestionRecord, error) {
	var q QuestionRecord
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := questionTx(ctx, tx, questionID)
		if err != nil {
			return err
		}
		if cur.Status == QuestionWithdrawn {
			return model.NotFound("question")
		}
		status := cur.Status
		if p.Status != nil {
			status = *p.Status
		}
		answer := cur.Answer
		if p.Answer != nil {
			answer = *p.Answer
			if answer != "" && p.Status == nil {
				status = QuestionAnswered
			}
		}
		pinned := cur.Pinned
		if p.Pinned != nil {
			pinned = *p.Pinned
		}
		var answeredBy, answeredAt any
		if status == QuestionAnswered {
			answeredBy, answeredAt = by, now()
			if cur.Status == QuestionAnswered && (p.Answer == nil || *p.Answer == cur.Answer) && cur.AnsweredBy != nil {
				answeredBy, answeredAt = cur.AnsweredBy.ID, cur.AnsweredAt.UnixMilli()
			}
		}
		if _, err := tx.Exec(`UPDATE questions SET status = ?, pinned = ?, answer = ?, answered_by = ?, answered_at = ? WHERE id = ?`,
			status, boolInt(pinned), answer, answeredBy, answeredAt, questionID); err != nil {
			return err
		}
		q, err = questionTx(ctx, tx, questionID)
		return err
	})
	if err != nil {
		return q, fmt.Errorf("store: update question: %w", err)
	}
	return q, nil
}

// WithdrawQuestion marks a question withdrawn (kept for the record); false
// when it already was.
func (s *Store) WithdrawQuestion(ctx context.Context, questionID int64) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE questions SET status = 'withdrawn', pinned = 0 WHERE id = ? AND status <> 'withdrawn'`, questionID)
	if err != nil {
		return false, mapErr(fmt.Errorf("store: withdraw: %w", err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// QuestionsInRange lists the questions of convID (0: every conversation)
// asked in [since, until) (nil: open), withdrawn ones included, in order.
func (s *Store) QuestionsInRange(ctx context.Context, convID int64, since, until *int64) ([]QuestionRecord, error) {
	list, err := queryQuestions(ctx, s.r, `(? = 0 OR q.conversation_id = ?) AND (? IS NULL OR q.created_at >= ?) AND (? IS NULL OR q.created_at < ?)
		ORDER BY q.conversation_id, q.id`, convID, convID, since, since, until, until)
	if err != nil {
		return nil, fmt.Errorf("store: questions in range: %w", err)
	}
	return list, nil
}

// VotesInRange counts the upvotes each user gave in [since, until) (the
// votes that stand; one taken back is gone).
func (s *Store) VotesInRange(ctx context.Context, since, until *int64) (map[int64]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT user_id, count(*) FROM question_votes
		WHERE (? IS NULL OR created_at >= ?) AND (? IS NULL OR created_at < ?) GROUP BY user_id`, since, since, until, until)
	if err != nil {
		return nil, fmt.Errorf("store: votes: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var uid int64
		var n int
		if err := rows.Scan(&uid, &n); err != nil {
			return nil, err
		}
		out[uid] = n
	}
	return out, rows.Err()
}
