package chat

import (
	"context"

	"teamchat/server/model"
)

// ActiveUser is the account as it is now (role, state), for a connection that
// authenticated earlier; ErrUnauthorized once it is disabled or expired.
func (s *Service) ActiveUser(ctx context.Context, id int64) (model.User, error) {
	return s.activeUser(ctx, id, anyEpoch)
}
