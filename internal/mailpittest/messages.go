package mailpittest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Message is one mail mailpit received, as its API decodes it: Subject with
// RFC 2047 words decoded, Text with the transfer encoding undone.
type Message struct {
	// ID is mailpit's id; MessageID the Message-ID header without <>.
	ID        string
	MessageID string
	Subject   string
	// From and To are the header's addresses (without display names).
	From string
	To   []string
	// Text is the text/plain body.
	Text string
	// Headers are the raw headers, by canonical name.
	Headers map[string][]string
}

type apiAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

type apiSummary struct {
	ID string `json:"ID"`
}

type apiMessage struct {
	ID        string       `json:"ID"`
	MessageID string       `json:"MessageID"`
	Subject   string       `json:"Subject"`
	From      apiAddress   `json:"From"`
	To        []apiAddress `json:"To"`
	Text      string       `json:"Text"`
}

// Messages returns every message mailpit holds, oldest first.
func (s *Server) Messages(ctx context.Context) ([]Message, error) {
	var list struct {
		Messages []apiSummary `json:"messages"`
	}
	if err := s.get(ctx, "/api/v1/messages?limit=1000", &list); err != nil {
		return nil, err
	}
	// The list is newest first.
	out := make([]Message, 0, len(list.Messages))
	for i := len(list.Messages) - 1; i >= 0; i-- {
		m, err := s.Message(ctx, list.Messages[i].ID)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Message returns one message by mailpit's id.
func (s *Server) Message(ctx context.Context, id string) (Message, error) {
	var m apiMessage
	if err := s.get(ctx, "/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		return Message{}, err
	}
	var headers map[string][]string
	if err := s.get(ctx, "/api/v1/message/"+url.PathEscape(id)+"/headers", &headers); err != nil {
		return Message{}, err
	}
	msg := Message{ID: m.ID, MessageID: m.MessageID, Subject: m.Subject, From: m.From.Address, Text: m.Text, Headers: headers}
	for _, a := range m.To {
		msg.To = append(msg.To, a.Address)
	}
	return msg, nil
}

// WaitMessages waits up to 10 s until mailpit holds at least n messages and
// returns them all, oldest first; it fails the test if they do not come.
func (s *Server) WaitMessages(t testing.TB, n int) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		msgs, err := s.Messages(ctx)
		if err == nil && len(msgs) >= n {
			return msgs
		}
		select {
		case <-ctx.Done():
			t.Fatalf("mailpittest: want %d messages, have %d after 10s (last error: %v)", n, len(msgs), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *Server) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL()+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.api.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("mailpit API GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit API GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("mailpit API GET %s: %w", path, err)
	}
	return nil
}
