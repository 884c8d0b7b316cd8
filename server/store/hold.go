package store

import "context"

// HoldWriter takes the writer connection, as a long write transaction
// would, until release is called: every write waits for it meanwhile, and
// those that wait past the write timeout are refused as busy. Tests use it
// to overload the writer deterministically.
func (s *Store) HoldWriter(ctx context.Context) (release func(), err error) {
	c, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return func() { _ = c.Close() }, nil
}
