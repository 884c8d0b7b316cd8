package cli

import (
	"context"
	"flag"
	"io"
	"time"

	"teamchat/server/chat"
	"teamchat/server/store"
)

// Participation and transcript exports (issue 6): the same files as
// GET /api/v1/participation, GET /api/v1/conversations/{id}/transcript and
// GET /api/v1/sessions/{id}/transcript, written by the same code (chat/reports.go).

type reportOpts struct {
	participation *bool
	since, until  *string
	session       *int64
	rng           chat.TimeRange
}

func reportFlags(fs *flag.FlagSet) *reportOpts {
	return &reportOpts{
		participation: fs.Bool("participation", false, "per-student participation (--format json|csv) instead of messages"),
		since:         fs.String("since", "", "only messages at or after this RFC 3339 time (--participation or --conversation)"),
		until:         fs.String("until", "", "only messages before this RFC 3339 time (--participation or --conversation)"),
		session:       fs.Int64("session", 0, "only messages of this class session (instead of --since/--until); without --conversation: the session's transcript of all conversations"),
	}
}

// check validates the flag combination and parses the time range.
func (o *reportOpts) check(format string, conv int64) error {
	switch {
	case *o.participation:
		if format != chat.FormatJSON && format != chat.FormatCSV {
			return usageErr("--participation needs --format json|csv")
		}
		if conv != 0 {
			return usageErr("--participation and --conversation do not go together")
		}
	case format != chat.FormatHTML && format != chat.FormatJSON && format != chat.FormatCSV:
		return usageErr("--format json|csv|html is required")
	case o.sessionTranscript(conv):
		// The class session's transcript; --since/--until are refused below.
	case format == chat.FormatHTML && conv == 0:
		return usageErr("--format html needs one --conversation ID or a --session ID")
	case o.ranged() && conv == 0:
		return usageErr("--since/--until need --participation or one --conversation ID")
	}
	if *o.session < 0 || (*o.session > 0 && (*o.since != "" || *o.until != "")) {
		return usageErr("give --session ID or --since/--until, not both")
	}
	rng, err := chat.ParseTimeRange(*o.since, *o.until)
	if err != nil {
		return usageErr("%s", err.Error())
	}
	rng.SessionID = *o.session
	o.rng = rng
	return nil
}

func (o *reportOpts) ranged() bool { return *o.since != "" || *o.until != "" || *o.session != 0 }

// sessionTranscript tells whether the export is a class session's transcript
// across all conversations: --session without --conversation or --participation.
func (o *reportOpts) sessionTranscript(conv int64) bool {
	return !*o.participation && conv == 0 && *o.session != 0
}

// active tells whether the export is a report (participation or transcript)
// rather than the full export: participation, html, or a time range.
func (o *reportOpts) active(format string) bool {
	return *o.participation || format == chat.FormatHTML || o.ranged()
}

func (o *reportOpts) write(ctx context.Context, st *store.Store, format string, conv int64, w io.Writer) error {
	if *o.participation {
		p, err := chat.BuildParticipation(ctx, st, o.rng)
		if err != nil {
			return err
		}
		return chat.WriteParticipation(w, p, format)
	}
	if o.sessionTranscript(conv) {
		t, err := chat.BuildSessionTranscript(ctx, st, *o.session, time.Now())
		if err != nil {
			return err
		}
		return chat.WriteSessionTranscript(w, t, format)
	}
	t, err := chat.BuildTranscript(ctx, st, conv, o.rng, time.Now())
	if err != nil {
		return err
	}
	return chat.WriteTranscript(w, t, format)
}
