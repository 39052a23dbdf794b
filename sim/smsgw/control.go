package smsgw

import (
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"
)

// AddAccount lets an Africa's Talking account send (a second tenant's
// credentials); an existing username is replaced.
func (s *Server) AddAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[a.Username] = a
}

// AddBot lets a Telegram bot send; an existing token is replaced.
func (s *Server) AddBot(b Bot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots[b.Token] = b
}

// FailSMS queues f for the next n send requests (n < 1 counts as 1).
func (s *Server) FailSMS(n int, f SMSFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range max(n, 1) {
		s.smsFault = append(s.smsFault, f)
	}
}

// FailTelegram queues f for the next n sendMessage calls (n < 1 counts
// as 1).
func (s *Server) FailTelegram(n int, f TelegramFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range max(n, 1) {
		s.tgFault = append(s.tgFault, f)
	}
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.smsFault, s.tgFault = nil, nil
}

// SetDeliveryOutcome sets the delivery report of later messages to number
// ("" for every number without its own).
func (s *Server) SetDeliveryOutcome(number string, o DeliveryOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[number] = o
}

// Messages returns the SMS received, oldest first; to, when not "", keeps
// those to that number.
func (s *Server) Messages(to string) []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []SMS{}
	for _, m := range s.sms {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// TelegramMessages returns the Telegram messages sent, oldest first;
// chatID, when not 0, keeps those to that chat.
func (s *Server) TelegramMessages(chatID int64) []TelegramMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []TelegramMessage{}
	for _, m := range s.tg {
		if chatID == 0 || m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// Reset forgets messages, faults, outcomes and accounts and bots added
// since New, back to Options.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// ControlHandler returns the control API, JSON over HTTP. It answers
// loopback clients only (403 otherwise) and has no other authentication.
//
//	POST   /control/sms/accounts      Account
//	GET    /control/sms/messages[?to=+2547…]
//	POST   /control/sms/faults        {"count":N, SMSFault…}
//	PUT    /control/sms/delivery      {"number"?, DeliveryOutcome…}
//	POST   /control/telegram/bots     Bot
//	GET    /control/telegram/messages[?chat_id=N]
//	POST   /control/telegram/faults   {"count":N, TelegramFault…}
//	DELETE /control/faults
//	POST   /control/reset
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /control/sms/accounts", func(w http.ResponseWriter, r *http.Request) {
		var a Account
		if !decode(w, r, &a) {
			return
		}
		if a.Username == "" || a.APIKey == "" {
			http.Error(w, "username and api_key are required", http.StatusBadRequest)
			return
		}
		s.AddAccount(a)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /control/sms/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Messages(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("POST /control/sms/faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Count int `json:"count"`
			SMSFault
		}
		if !decode(w, r, &in) {
			return
		}
		s.FailSMS(in.Count, in.SMSFault)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /control/sms/delivery", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Number string `json:"number"`
			DeliveryOutcome
		}
		if !decode(w, r, &in) {
			return
		}
		if !slices.Contains([]string{"", "Sent", "Submitted", "Buffered", "Rejected", "Success", "Failed", "AbsentSubscriber", "Expired"}, in.Status) {
			http.Error(w, "unknown delivery status "+strconv.Quote(in.Status), http.StatusBadRequest)
			return
		}
		s.SetDeliveryOutcome(in.Number, in.DeliveryOutcome)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /control/telegram/bots", func(w http.ResponseWriter, r *http.Request) {
		var b Bot
		if !decode(w, r, &b) {
			return
		}
		if _, ok := botID(b.Token); !ok {
			http.Error(w, "token must look like 123456:secret", http.StatusBadRequest)
			return
		}
		s.AddBot(b)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /control/telegram/messages", func(w http.ResponseWriter, r *http.Request) {
		var chat int64
		if v := r.URL.Query().Get("chat_id"); v != "" {
			var err error
			if chat, err = strconv.ParseInt(v, 10, 64); err != nil {
				http.Error(w, "chat_id must be a number", http.StatusBadRequest)
				return
			}
		}
		writeJSON(w, s.TelegramMessages(chat))
	})
	mux.HandleFunc("POST /control/telegram/faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Count int `json:"count"`
			TelegramFault
		}
		if !decode(w, r, &in) {
			return
		}
		s.FailTelegram(in.Count, in.TelegramFault)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /control/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /control/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return loopbackOnly(mux)
}

func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "the control API answers loopback clients only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
