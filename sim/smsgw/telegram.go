package smsgw

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTelegramText is the longest text sendMessage takes, in characters.
const MaxTelegramText = 4096

// TelegramFault is a scripted failure of one sendMessage.
type TelegramFault struct {
	// ErrorCode answers {"ok":false,"error_code":ErrorCode} with that HTTP
	// status (400, 403, 429, 500, …).
	ErrorCode int `json:"error_code,omitempty"`
	// Description is the error's description; "" means Telegram's usual
	// text for ErrorCode.
	Description string `json:"description,omitempty"`
	// RetryAfter, with ErrorCode 429, is parameters.retry_after in
	// seconds; 0 means 5.
	RetryAfter int `json:"retry_after,omitempty"`
	// Hang takes the message (it is listed) and never answers.
	Hang bool `json:"hang,omitempty"`
}

// TelegramMessage is one message a bot sent, as the simulator received
// it.
type TelegramMessage struct {
	MessageID int64     `json:"message_id"`
	Bot       string    `json:"bot"` // the bot's id, the token's part before ':'
	ChatID    int64     `json:"chat_id"`
	Text      string    `json:"text"`
	ParseMode string    `json:"parse_mode,omitempty"`
	Date      time.Time `json:"date"`
}

type tgError struct {
	OK          bool          `json:"ok"`
	ErrorCode   int           `json:"error_code"`
	Description string        `json:"description"`
	Parameters  *tgParameters `json:"parameters,omitempty"`
}

type tgParameters struct {
	RetryAfter int `json:"retry_after,omitempty"`
}

type tgChat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type tgUser struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username"`
}

type tgMessage struct {
	MessageID int64  `json:"message_id"`
	From      tgUser `json:"from"`
	Chat      tgChat `json:"chat"`
	Date      int64  `json:"date"`
	Text      string `json:"text"`
}

func tgWrite(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) tgFail(w http.ResponseWriter, code int, desc string, retryAfter int) {
	e := tgError{ErrorCode: code, Description: desc}
	if retryAfter > 0 {
		e.Parameters = &tgParameters{RetryAfter: retryAfter}
	}
	s.metrics.telegram.WithLabelValues(strconv.Itoa(code)).Inc()
	tgWrite(w, code, e)
}

func tgDescription(code int) string {
	switch code {
	case 400:
		return "Bad Request: chat not found"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden: bot was blocked by the user"
	case 429:
		return "Too Many Requests: retry later"
	}
	return "Internal Server Error"
}

// botID returns the numeric id in a token "123456:secret", or false.
func botID(token string) (int64, bool) {
	id, secret, ok := strings.Cut(token, ":")
	if !ok || secret == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

func (s *Server) handleTelegram(w http.ResponseWriter, r *http.Request) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok {
		s.tgFail(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	s.mu.Lock()
	bot, known := s.bots[token]
	s.mu.Unlock()
	id, wellFormed := botID(token)
	if !wellFormed || !known && !s.opts.AnyBot {
		s.tgFail(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	if !strings.EqualFold(method, "sendMessage") {
		s.tgFail(w, http.StatusNotFound, "Not Found: method not found", 0)
		return
	}
	var in struct {
		ChatID    json.RawMessage `json:"chat_id"`
		Text      string          `json:"text"`
		ParseMode string          `json:"parse_mode"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var chat string
	if ct == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			s.tgFail(w, http.StatusBadRequest, "Bad Request: can't parse JSON object", 0)
			return
		}
		chat = strings.Trim(string(in.ChatID), `"`)
	} else {
		if err := r.ParseForm(); err != nil {
			s.tgFail(w, http.StatusBadRequest, "Bad Request: can't parse request", 0)
			return
		}
		chat, in.Text, in.ParseMode = r.Form.Get("chat_id"), r.Form.Get("text"), r.Form.Get("parse_mode")
	}
	if chat == "" {
		s.tgFail(w, http.StatusBadRequest, "Bad Request: chat_id is empty", 0)
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		s.tgFail(w, http.StatusBadRequest, "Bad Request: message text is empty", 0)
		return
	}
	if utf8.RuneCountInString(in.Text) > MaxTelegramText {
		s.tgFail(w, http.StatusBadRequest, "Bad Request: message is too long", 0)
		return
	}
	switch in.ParseMode {
	case "", "HTML", "Markdown", "MarkdownV2":
	default:
		s.tgFail(w, http.StatusBadRequest, "Bad Request: unsupported parse_mode", 0)
		return
	}
	chatID, err := strconv.ParseInt(chat, 10, 64)
	if err != nil || known && bot.Chats != nil && !slices.Contains(bot.Chats, chatID) {
		s.tgFail(w, http.StatusBadRequest, "Bad Request: chat not found", 0)
		return
	}
	s.mu.Lock()
	var fault TelegramFault
	hasFault := len(s.tgFault) > 0
	if hasFault {
		fault = s.tgFault[0]
		s.tgFault = s.tgFault[1:]
	}
	if hasFault && fault.ErrorCode != 0 {
		s.mu.Unlock()
		desc := fault.Description
		if desc == "" {
			desc = tgDescription(fault.ErrorCode)
		}
		retry := 0
		if fault.ErrorCode == http.StatusTooManyRequests {
			retry = fault.RetryAfter
			if retry <= 0 {
				retry = 5
			}
			if fault.Description == "" {
				desc = "Too Many Requests: retry after " + strconv.Itoa(retry)
			}
		}
		s.tgFail(w, fault.ErrorCode, desc, retry)
		return
	}
	s.tgSeq[chatID]++
	now := s.now()
	m := TelegramMessage{MessageID: s.tgSeq[chatID], Bot: strconv.FormatInt(id, 10), ChatID: chatID, Text: in.Text, ParseMode: in.ParseMode, Date: now}
	s.tg = append(s.tg, m)
	s.mu.Unlock()
	s.log.Info("telegram message received", "bot", m.Bot, "chat_id", chatID, "message_id", m.MessageID)
	if hasFault && fault.Hang {
		s.hang(r)
		return
	}
	s.metrics.telegram.WithLabelValues("200").Inc()
	tgWrite(w, http.StatusOK, struct {
		OK     bool      `json:"ok"`
		Result tgMessage `json:"result"`
	}{true, tgMessage{
		MessageID: m.MessageID, From: tgUser{ID: id, IsBot: true, FirstName: "SitePulse", Username: "sitepulse_sim_bot"},
		Chat: tgChat{ID: chatID, Type: "private"}, Date: now.Unix(), Text: in.Text,
	}})
}
