package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"teamchat/server/chat"
	"teamchat/server/model"
	"teamchat/server/store"
)

// exportConversation is one conversation in a JSON export.
type exportConversation struct {
	model.Conversation
	Messages []model.Message `json:"messages"`
}

func exportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", os.Getenv("TEAMCHAT_DATA"), "data directory")
	conv := fs.Int64("conversation", 0, "only this conversation id")
	format := fs.String("format", "", "json, csv, or html (one --conversation, or --session)")
	out := fs.String("out", "", "file to write (default: standard output)")
	rep := reportFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := rep.check(*format, *conv); err != nil {
		return err
	}
	ctx := context.Background()
	st, _, err := openService(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if rep.active(*format) {
		err = rep.write(ctx, st, *format, *conv, bw)
	} else if *format == "json" {
		err = ExportJSON(ctx, st, *conv, bw)
	} else {
		err = ExportCSV(ctx, st, *conv, bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && f != nil {
		err = f.Sync()
	}
	if err == nil && *out != "" {
		fmt.Fprintf(stderr, "export written to %s\n", *out)
	}
	return err
}

func exportConversations(ctx context.Context, st *store.Store, convID int64) ([]model.Conversation, error) {
	if convID != 0 {
		c, err := st.Conversation(ctx, convID)
		if err != nil {
			return nil, fmt.Errorf("conversation %d: %w", convID, err)
		}
		return []model.Conversation{c}, nil
	}
	all, err := st.ListConversations(ctx, 0, true)
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].Unread, all[i].MemberRole, all[i].LastMsg = nil, nil, nil
	}
	return all, nil
}

// ExportJSON writes {exported_at, conversations:[{...conversation, members, messages}]}.
func ExportJSON(ctx context.Context, st *store.Store, convID int64, w io.Writer) error {
	convs, err := exportConversations(ctx, st, convID)
	if err != nil {
		return err
	}
	out := struct {
		ExportedAt    model.Time           `json:"exported_at"`
		Conversations []exportConversation `json:"conversations"`
	}{ExportedAt: model.Time{Time: time.Now()}, Conversations: []exportConversation{}}
	byID := map[int64]int{}
	for _, c := range convs {
		if c.Members, err = st.Members(ctx, c.ID); err != nil {
			return err
		}
		byID[c.ID] = len(out.Conversations)
		out.Conversations = append(out.Conversations, exportConversation{Conversation: c, Messages: []model.Message{}})
	}
	err = st.AllMessages(ctx, convID, func(m model.Message) error {
		if i, ok := byID[m.ConversationID]; ok {
			out.Conversations[i].Messages = append(out.Conversations[i].Messages, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ExportCSV writes one row per message, in conversation and seq order.
func ExportCSV(ctx context.Context, st *store.Store, convID int64, w io.Writer) error {
	convs, err := exportConversations(ctx, st, convID)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, c := range convs {
		names[c.ID] = c.Name
	}
	cw := chat.NewCSVWriter(w)
	if err := cw.Write(chat.TranscriptCSVHeader); err != nil {
		return err
	}
	err = st.AllMessages(ctx, convID, func(m model.Message) error {
		return cw.Write(chat.TranscriptCSVRow(names[m.ConversationID], m))
	})
	if err != nil {
		return err
	}
	return cw.Flush()
}
