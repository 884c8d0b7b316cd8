package chat

import (
	"context"
	"errors"
	"sort"
	"strings"
	"unicode/utf8"

	"teamchat/server/model"
	"teamchat/server/store"
)

// Questions (Q&A board), per conversation (the whole class in its auto-join
// conversation). "Anonymous to classmates" is the default: the asker is named
// to staff (admins and the conversation's owners) and to the asker, never to
// other members — in REST answers and in frames alike (PublishSplit). Votes
// are counted per question; who voted is never sent to anyone.

// MaxQuestionRunes bounds a question and an inline answer.
const MaxQuestionRunes = 1000

// Question is a question as one viewer sees it. Asker is null for an
// anonymous question shown to a classmate; Mine tells the asker it is theirs.
// Voted (the viewer's own upvote) is in REST answers only, not in frames.
type Question struct {
	ID             int64       `json:"id"`
	ConversationID int64       `json:"conversation_id"`
	Body           string      `json:"body"`
	Anonymous      bool        `json:"anonymous"`
	Asker          *model.User `json:"asker"`
	Mine           bool        `json:"mine"`
	Status         string      `json:"status"`
	Pinned         bool        `json:"pinned"`
	Answer         string      `json:"answer"`
	AnsweredBy     *model.User `json:"answered_by"`
	AnsweredAt     *model.Time `json:"answered_at"`
	Votes          int         `json:"votes"`
	Voted          *bool       `json:"voted,omitempty"`
	CreatedAt      model.Time  `json:"created_at"`
}

// QuestionFrame is question_asked or question_updated.
type QuestionFrame struct {
	Type           string   `json:"type"`
	ConversationID int64    `json:"conversation_id"`
	Question       Question `json:"question"`
}

// QuestionRemovedFrame is question_removed: withdrawn by its asker, or
// dismissed (students and guests only; staff get question_updated).
type QuestionRemovedFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	QuestionID     int64  `json:"question_id"`
}

// viewQuestion is r as viewerID sees it; staff see every asker.
func viewQuestion(r store.QuestionRecord, viewerID int64, staff bool) Question {
	q := Question{ID: r.ID, ConversationID: r.ConversationID, Body: r.Body, Anonymous: r.Anonymous, Mine: r.Asker.ID == viewerID,
		Status: r.Status, Pinned: r.Pinned, Answer: r.Answer, AnsweredBy: r.AnsweredBy, AnsweredAt: r.AnsweredAt, Votes: r.Votes, CreatedAt: r.CreatedAt}
	if !r.Anonymous || staff || q.Mine {
		a := r.Asker
		q.Asker = &a
	}
	return q
}

func isStaff(actor model.User, memberRole string) bool {
	return actor.Role == model.RoleAdmin || memberRole == model.MemberOwner
}

// publishQuestion sends a question's frame in three versions: named to
// staff, "mine" to the asker, as classmates see it to everyone else.
// removedForStudents sends question_removed to students instead (dismissed).
func (s *Service) publishQuestion(ctx context.Context, typ string, r store.QuestionRecord, removedForStudents bool) {
	ids, _ := s.memberIDs(ctx, r.ConversationID)
	owners := map[int64]bool{}
	if ms, err := s.st.Members(ctx, r.ConversationID); err == nil {
		for _, m := range ms {
			if m.Role == model.MemberOwner {
				owners[m.User.ID] = true
			}
		}
	}
	staffF := QuestionFrame{Type: typ, ConversationID: r.ConversationID, Question: viewQuestion(r, 0, true)}
	var askerF, peerF any = QuestionFrame{Type: typ, ConversationID: r.ConversationID, Question: viewQuestion(r, r.Asker.ID, false)},
		QuestionFrame{Type: typ, ConversationID: r.ConversationID, Question: viewQuestion(r, 0, false)}
	if removedForStudents {
		peerF = QuestionRemovedFrame{Type: "question_removed", ConversationID: r.ConversationID, QuestionID: r.ID}
		askerF = peerF
	}
	s.hub.PublishSplit(r.ConversationID, ids, func(u model.User) int {
		switch {
		case u.Role == model.RoleAdmin || owners[u.ID]:
			return 0
		case u.ID == r.Asker.ID:
			return 1
		}
		return 2
	}, staffF, askerF, peerF)
}

func validQuestionText(field, s string) (string, error) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", model.Invalid("%s: invalid text", field)
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxQuestionRunes {
		return "", model.Invalid("%s: at most %d characters (%d given)", field, MaxQuestionRunes, n)
	}
	return s, nil
}

// Questions lists a conversation's questions sorted "votes" (the default:
// pinned first, then most upvoted, then oldest) or "newest" (pinned first).
// Staff also see the dismissed ones.
func (s *Service) Questions(ctx context.Context, actor model.User, convID int64, sortBy string) ([]Question, error) {
	_, role, err := s.Authorize(ctx, actor, convID, ActRead)
	if err != nil {
		return nil, err
	}
	if sortBy != "" && sortBy != "votes" && sortBy != "newest" {
		return nil, model.Invalid("sort: want votes or newest")
	}
	staff := isStaff(actor, role)
	list, voted, err := s.st.Questions(ctx, convID, actor.ID, staff)
	if err != nil {
		return nil, err
	}
	out := make([]Question, len(list))
	for i, r := range list {
		out[i] = viewQuestion(r, actor.ID, staff)
		v := voted[r.ID]
		out[i].Voted = &v
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Pinned != b.Pinned {
			return a.Pinned
		}
		if sortBy == "newest" {
			return a.ID > b.ID
		}
		if a.Votes != b.Votes {
			return a.Votes > b.Votes
		}
		return a.ID < b.ID
	})
	return out, nil
}

// Ask stores a question (members and admins, under the moderation of every
// write but sending).
func (s *Service) Ask(ctx context.Context, actor model.User, convID int64, body string, anonymous bool) (Question, error) {
	_, role, err := s.Authorize(ctx, actor, convID, ActPost)
	if err != nil {
		return Question{}, err
	}
	body, err = validQuestionText("body", body)
	if err != nil {
		return Question{}, err
	}
	if body == "" {
		return Question{}, model.Invalid("body: must not be empty")
	}
	r, err := s.st.AskQuestion(ctx, convID, actor.ID, body, anonymous)
	if err != nil {
		return Question{}, err
	}
	s.publishQuestion(ctx, "question_asked", r, false)
	q := viewQuestion(r, actor.ID, isStaff(actor, role))
	f := false
	q.Voted = &f
	return q, nil
}

// authorizeQuestion finds a question the actor may read (not_found otherwise,
// also for a withdrawn one) and says whether the actor is staff there.
func (s *Service) authorizeQuestion(ctx context.Context, actor model.User, id int64, act Action) (store.QuestionRecord, bool, error) {
	r, err := s.st.Question(ctx, id)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return r, false, model.NotFound("question")
		}
		return r, false, err
	}
	_, role, err := s.Authorize(ctx, actor, r.ConversationID, act)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return r, false, model.NotFound("question")
		}
		return r, false, err
	}
	staff := isStaff(actor, role)
	if r.Status == store.QuestionWithdrawn || (r.Status == store.QuestionDismissed && !staff) {
		return r, staff, model.NotFound("question")
	}
	return r, staff, nil
}

// Vote gives (on) or takes back the actor's upvote: once per user and
// question, refused while muted or paused as asking is.
func (s *Service) Vote(ctx context.Context, actor model.User, id int64, on bool) (Question, error) {
	_, staff, err := s.authorizeQuestion(ctx, actor, id, ActPost)
	if err != nil {
		return Question{}, err
	}
	r, changed, err := s.st.SetVote(ctx, id, actor.ID, on)
	if err != nil {
		return Question{}, err
	}
	if changed {
		s.publishQuestion(ctx, "question_updated", r, false)
	}
	q := viewQuestion(r, actor.ID, staff)
	q.Voted = &on
	return q, nil
}

// QuestionPatch is a staff change: status open, answered or dismissed; pin;
// inline answer (a non-empty answer marks the question answered).
type QuestionPatch struct {
	Status *string
	Pinned *bool
	Answer *string
}

// UpdateQuestion applies a staff change (owners and admins).
func (s *Service) UpdateQuestion(ctx context.Context, actor model.User, id int64, p QuestionPatch) (Question, error) {
	if _, _, err := s.authorizeQuestion(ctx, actor, id, ActManage); err != nil {
		return Question{}, err
	}
	if p.Status != nil {
		switch *p.Status {
		case store.QuestionOpen, store.QuestionAnswered, store.QuestionDismissed:
		default:
			return Question{}, model.Invalid("status: want open, answered or dismissed")
		}
	}
	if p.Answer != nil {
		a, err := validQuestionText("answer", *p.Answer)
		if err != nil {
			return Question{}, err
		}
		p.Answer = &a
	}
	if p.Status == nil && p.Pinned == nil && p.Answer == nil {
		return Question{}, model.Invalid("give status, pinned or answer")
	}
	r, err := s.st.UpdateQuestion(ctx, id, actor.ID, store.QuestionPatch{Status: p.Status, Pinned: p.Pinned, Answer: p.Answer})
	if err != nil {
		return Question{}, err
	}
	s.publishQuestion(ctx, "question_updated", r, r.Status == store.QuestionDismissed)
	return viewQuestion(r, actor.ID, true), nil
}

// Withdraw lets the asker take a question back (only the asker; staff
// dismiss instead). Withdrawing needs no write permission: a muted student
// may still take their question back.
func (s *Service) Withdraw(ctx context.Context, actor model.User, id int64) error {
	r, _, err := s.authorizeQuestion(ctx, actor, id, ActRead)
	if err != nil {
		return err
	}
	if r.Asker.ID != actor.ID {
		return model.Forbidden("only the asker can withdraw a question")
	}
	changed, err := s.st.WithdrawQuestion(ctx, id)
	if err != nil || !changed {
		return err
	}
	ids, _ := s.memberIDs(ctx, r.ConversationID)
	s.hub.PublishTo(r.ConversationID, ids, true, QuestionRemovedFrame{Type: "question_removed", ConversationID: r.ConversationID, QuestionID: id})
	return nil
}

// countQuestions adds questions asked (withdrawn ones too: asking happened)
// and upvotes given in the range to the participation rows.
func countQuestions(ctx context.Context, st *store.Store, since, until *int64, rows map[int64]*ParticipationRow) error {
	qs, err := st.QuestionsInRange(ctx, 0, since, until)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if row := rows[q.Asker.ID]; row != nil {
			row.QuestionsAsked++
		}
	}
	votes, err := st.VotesInRange(ctx, since, until)
	if err != nil {
		return err
	}
	for uid, n := range votes {
		if row := rows[uid]; row != nil {
			row.UpvotesGiven += n
		}
	}
	return nil
}

// sessionQuestions puts the questions asked in a session's window into the
// transcript's conversations.
func sessionQuestions(ctx context.Context, st *store.Store, t *SessionTranscript, since, until *int64) error {
	qs, err := st.QuestionsInRange(ctx, 0, since, until)
	if err != nil {
		return err
	}
	for _, q := range qs {
		i, err := sessionSection(ctx, st, t, q.ConversationID)
		if err != nil {
			return err
		}
		t.Conversations[i].Questions = append(t.Conversations[i].Questions, q)
	}
	return nil
}
