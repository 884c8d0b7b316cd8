package chat

import "testing"

func TestValidEmoji(t *testing.T) {
	// The quick set of docs/api.md, flags, keycaps, ZWJ and skin-tone sequences.
	for _, e := range []string{"👍", "❤️", "😂", "😮", "😢", "🎉", "✅", "❓", "🇫🇷", "1️⃣", "#⃣", "👩🏽‍🔬", "🏳️‍🌈"} {
		if !ValidEmoji(e) {
			t.Errorf("ValidEmoji(%q) = false", e)
		}
	}
	for _, e := range []string{"", "x", "ok", "👍👍", "🇫", "👍 ", "1", "<b>", "\u200d👍", "👍\u200d"} {
		if ValidEmoji(e) {
			t.Errorf("ValidEmoji(%q) = true", e)
		}
	}
}
