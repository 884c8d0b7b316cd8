package files

import (
	"image"
	"io"
)

// SetBeforeDecode makes Inspect call f with the decoding budget granted,
// just before it decodes an image, so a test can hold a decode in flight.
func SetBeforeDecode(s *Store, f func(owner int64)) { s.beforeDecode = f }

// DecodeCost is decodeCost, for the tests that check it against what the
// decoders really allocate.
func DecodeCost(contentType string, head []byte, r io.ReadSeeker, cfg image.Config) (int64, error) {
	return decodeCost(contentType, head, r, cfg)
}
