package store

import (
	"context"
	"fmt"

	"teamchat/server/model"
)

// SettingGroupPolicy says who may create groups (model.GroupPolicy*).
const SettingGroupPolicy = "group_policy"

// Client-safe refusals of a group of two students under the direct-message policy.
const (
	MsgPairOff     = "direct messages are turned off in this class, and a group of two students is one: add a third member or a member of staff"
	MsgPairStaff   = "in this class you can send direct messages only to staff, and a group of two students is a direct message: add a member of staff"
	MsgGroupsStaff = "in this class only staff can create groups"
)

// headcountSQL counts a conversation's enabled members and the admins among them.
const headcountSQL = `SELECT count(*), coalesce(sum(u.role = 'admin'), 0) FROM conversation_members m
	JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ? AND u.disabled = 0`

// Headcount is a conversation's enabled members and the admins among them.
func (s *Store) Headcount(ctx context.Context, convID int64) (members, admins int, err error) {
	if err := s.r.QueryRowContext(ctx, headcountSQL, convID).Scan(&members, &admins); err != nil {
		return 0, 0, fmt.Errorf("store: headcount: %w", err)
	}
	return members, admins, nil
}

// PairOfStudents is the direct-message policy's view of a group: exactly two
// enabled members and no admin among them is a direct conversation by another
// name.
func PairOfStudents(members, admins int) bool { return members == 2 && admins == 0 }

// pairGroup reports, once per batch and conversation, whether a group is a
// pair of students (inside the commit's transaction).
func (b *batchState) pairGroup(convID int64) (bool, error) {
	if p, ok := b.mod.pairs[convID]; ok {
		return p, nil
	}
	var members, admins int
	if err := b.tx.QueryRow(headcountSQL, convID).Scan(&members, &admins); err != nil {
		return false, err
	}
	if b.mod.pairs == nil {
		b.mod.pairs = map[int64]bool{}
	}
	p := PairOfStudents(members, admins)
	b.mod.pairs[convID] = p
	return p, nil
}

// checkPairGroup applies the direct-message policy to a post in a group that
// is a pair of students (the sender is not an admin; settings are loaded).
func (b *batchState) checkPairGroup(convID int64) error {
	if b.mod.dmPolicy == model.DMPolicyAnyone {
		return nil
	}
	pair, err := b.pairGroup(convID)
	if err != nil || !pair {
		return err
	}
	if b.mod.dmPolicy == model.DMPolicyNone {
		return model.Forbidden(MsgPairOff)
	}
	return model.Forbidden(MsgPairStaff)
}
