package chat

import (
	"context"

	"teamchat/server/model"
	"teamchat/server/store"
)

// groupSettings validates PATCH /settings' group_policy.
func groupSettings(p SettingsPatch, kv map[string]string) error {
	if p.GroupPolicy == nil {
		return nil
	}
	switch *p.GroupPolicy {
	case model.GroupPolicyAnyone, model.GroupPolicyStaff:
		kv[store.SettingGroupPolicy] = *p.GroupPolicy
		return nil
	}
	return model.Invalid("group_policy: want anyone or staff")
}

func groupPolicyOf(v string) string {
	if v == "" {
		return model.GroupPolicyAnyone
	}
	return v
}

// pairRefusal is the direct-message policy's answer to a group of two students.
func pairRefusal(dmPolicy string) error {
	switch dmPolicy {
	case model.DMPolicyNone:
		return model.Forbidden(store.MsgPairOff)
	case model.DMPolicyStaff:
		return model.Forbidden(store.MsgPairStaff)
	}
	return nil
}

// checkGroupCreate applies the group policy to a student creating a group,
// and the direct-message policy's intent: unless direct messages are open to
// anyone, a group of the student and one other student is a direct
// conversation by another name. (Posts in a group that becomes such a pair
// later are refused at commit, store.checkPairGroup.)
func (s *Service) checkGroupCreate(ctx context.Context, actor model.User, memberIDs []int64) error {
	if actor.Role == model.RoleAdmin {
		return nil
	}
	set, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	if set.GroupPolicy == model.GroupPolicyStaff {
		return model.Forbidden(store.MsgGroupsStaff)
	}
	if set.DMPolicy == model.DMPolicyAnyone {
		return nil
	}
	others := map[int64]bool{}
	for _, id := range memberIDs {
		if id != actor.ID {
			others[id] = true
		}
	}
	if len(others) != 1 {
		return nil
	}
	for id := range others {
		u, err := s.st.UserByID(ctx, id)
		if err != nil || u.Disabled || u.Role == model.RoleAdmin {
			return nil // an unknown or disabled id is refused by the store; staff makes it supervised
		}
	}
	return pairRefusal(set.DMPolicy)
}

// checkGroupAdd refuses a student (an owner) adding the member that would
// make a group a pair of students, unless direct messages are open to anyone.
func (s *Service) checkGroupAdd(ctx context.Context, actor model.User, convID, userID int64) error {
	if actor.Role == model.RoleAdmin {
		return nil
	}
	set, err := s.Settings(ctx)
	if err != nil || set.DMPolicy == model.DMPolicyAnyone {
		return err
	}
	u, err := s.st.UserByID(ctx, userID)
	if err != nil || u.Disabled || u.Role == model.RoleAdmin {
		return nil // the store refuses unknown users; staff makes it supervised
	}
	if role, err := s.st.MemberRole(ctx, convID, userID); err != nil || role != "" {
		return err // already a member: the add answers conflict
	}
	members, admins, err := s.st.Headcount(ctx, convID)
	if err != nil {
		return err
	}
	if store.PairOfStudents(members+1, admins) {
		return pairRefusal(set.DMPolicy)
	}
	return nil
}
