package smsgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Per-recipient status codes of Africa's Talking's send answer. 100, 101
// and 102 mean the message was taken; the others that it was not.
const (
	StatusProcessed             = 100
	StatusSent                  = 101
	StatusQueued                = 102
	StatusRiskHold              = 401
	StatusInvalidSenderID       = 402
	StatusInvalidPhoneNumber    = 403
	StatusUnsupportedNumberType = 404
	StatusInsufficientBalance   = 405
	StatusUserInBlacklist       = 406
	StatusCouldNotRoute         = 407
	StatusInternalServerError   = 500
	StatusGatewayError          = 501
	StatusRejectedByGateway     = 502
)

// StatusName returns the status text Africa's Talking sends with a
// per-recipient status code ("" for an unknown code).
func StatusName(code int) string {
	switch code {
	case StatusProcessed:
		return "Processed"
	case StatusSent:
		return "Success"
	case StatusQueued:
		return "Queued"
	case StatusRiskHold:
		return "RiskHold"
	case StatusInvalidSenderID:
		return "InvalidSenderId"
	case StatusInvalidPhoneNumber:
		return "InvalidPhoneNumber"
	case StatusUnsupportedNumberType:
		return "UnsupportedNumberType"
	case StatusInsufficientBalance:
		return "InsufficientBalance"
	case StatusUserInBlacklist:
		return "UserInBlacklist"
	case StatusCouldNotRoute:
		return "CouldNotRoute"
	case StatusInternalServerError:
		return "InternalServerError"
	case StatusGatewayError:
		return "GatewayError"
	case StatusRejectedByGateway:
		return "RejectedByGateway"
	}
	return ""
}

func accepted(code int) bool { return code >= 100 && code <= 102 }

// Cost is what the simulator charges per accepted message, in Africa's
// Talking's "KES 0.8000" form.
const Cost = "KES 0.8000"

// SMSFault is a scripted failure of one send request.
type SMSFault struct {
	// HTTPStatus answers the whole request with this status and a plain
	// body (500, 401, 503, …) and takes no message.
	HTTPStatus int `json:"http_status,omitempty"`
	// Hang takes the message (it is listed and its delivery report is
	// sent) and then never answers: the client times out not knowing
	// whether it was sent.
	Hang bool `json:"hang,omitempty"`
	// StatusCode answers 201 with this per-recipient status code (403
	// InvalidPhoneNumber, 405 InsufficientBalance, …) for every recipient
	// (or Number's) of the request.
	StatusCode int `json:"status_code,omitempty"`
	// Number, when set, applies the fault only to sends to this number;
	// the fault waits in the queue for one.
	Number string `json:"number,omitempty"`
}

// DeliveryOutcome is what the delivery report of a message says.
type DeliveryOutcome struct {
	// Status is the report's status: Success (the default), Failed,
	// Rejected, AbsentSubscriber, Expired, or an intermediate Sent,
	// Submitted or Buffered.
	Status string `json:"status"`
	// FailureReason is sent with a failed status (e.g.
	// DeliveryFailure, UserDoesNotExist, AbsentSubscriber).
	FailureReason string `json:"failure_reason,omitempty"`
	// RetryCount is the number of delivery attempts to the handset.
	RetryCount int `json:"retry_count,omitempty"`
	// Never sends no delivery report.
	Never bool `json:"never,omitempty"`
}

// SMS is one message to one recipient, as the simulator received it.
type SMS struct {
	MessageID  string    `json:"message_id"` // ATXid_…, "None" when refused
	Username   string    `json:"username"`
	From       string    `json:"from,omitempty"`
	To         string    `json:"to"`
	Text       string    `json:"text"`
	StatusCode int       `json:"status_code"` // per-recipient status code answered
	Status     string    `json:"status"`
	Received   time.Time `json:"received"`
	// Report is the delivery report status sent ("" until sent).
	Report string `json:"report,omitempty"`
	// ReportAttempts counts delivery report POSTs; ReportDelivered says
	// whether one got a 2xx answer.
	ReportAttempts  int  `json:"report_attempts,omitempty"`
	ReportDelivered bool `json:"report_delivered,omitempty"`
}

// atRecipient and atResponse are the send answer's JSON.
type atRecipient struct {
	StatusCode int    `json:"statusCode"`
	Number     string `json:"number"`
	Status     string `json:"status"`
	Cost       string `json:"cost"`
	MessageID  string `json:"messageId"`
}

type atResponse struct {
	SMSMessageData struct {
		Message    string        `json:"Message"`
		Recipients []atRecipient `json:"Recipients"`
	} `json:"SMSMessageData"`
}

// validNumber is Africa's Talking's international format: +, then 7 to 15
// digits.
func validNumber(n string) bool {
	if len(n) < 8 || len(n) > 16 || n[0] != '+' {
		return false
	}
	for _, c := range n[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func plain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, text)
}

func (s *Server) handleSMS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	if err := r.ParseForm(); err != nil {
		s.metrics.sms.WithLabelValues("400").Inc()
		plain(w, http.StatusBadRequest, "Could not parse the request body")
		return
	}
	username, apiKey := r.PostForm.Get("username"), r.Header.Get("apiKey")
	to, text, from := r.PostForm.Get("to"), r.PostForm.Get("message"), r.PostForm.Get("from")
	s.mu.Lock()
	acct, known := s.accounts[username]
	authed := username != "" && apiKey != "" && (s.opts.AnyAccount || known && acct.APIKey == apiKey)
	s.mu.Unlock()
	if !authed {
		s.metrics.sms.WithLabelValues("401").Inc()
		s.log.Info("sms refused: bad credentials", "username", username)
		plain(w, http.StatusUnauthorized, "The supplied authentication is invalid")
		return
	}
	for _, f := range []struct{ name, v string }{{"to", to}, {"message", text}} {
		if strings.TrimSpace(f.v) == "" {
			s.metrics.sms.WithLabelValues("400").Inc()
			plain(w, http.StatusBadRequest, fmt.Sprintf("Request is missing required form field '%s'", f.name))
			return
		}
	}
	var numbers []string
	for n := range strings.SplitSeq(to, ",") {
		if n = strings.TrimSpace(n); n != "" {
			numbers = append(numbers, n)
		}
	}
	fault, hasFault := s.takeSMSFault(numbers)
	if hasFault && fault.HTTPStatus != 0 {
		s.metrics.sms.WithLabelValues(strconv.Itoa(fault.HTTPStatus)).Inc()
		plain(w, fault.HTTPStatus, http.StatusText(fault.HTTPStatus))
		return
	}
	var resp atResponse
	sent := 0
	var reports []SMS
	s.mu.Lock()
	for _, n := range numbers {
		code := StatusSent
		switch {
		case !validNumber(n):
			code = StatusInvalidPhoneNumber
		case from != "" && acct.SenderIDs != nil && !slices.Contains(acct.SenderIDs, from):
			code = StatusInvalidSenderID
		case hasFault && fault.StatusCode != 0 && (fault.Number == "" || fault.Number == n):
			code = fault.StatusCode
		}
		rc := atRecipient{StatusCode: code, Number: n, Status: StatusName(code), Cost: "0", MessageID: "None"}
		if rc.Status == "" {
			rc.Status = "Failed"
		}
		if accepted(code) {
			s.smsSeq++
			rc.Cost = Cost
			rc.MessageID = fmt.Sprintf("ATXid_%032x", s.smsSeq)
			sent++
		}
		m := SMS{MessageID: rc.MessageID, Username: username, From: from, To: n, Text: text, StatusCode: code, Status: rc.Status, Received: s.now()}
		s.sms = append(s.sms, m)
		if accepted(code) {
			reports = append(reports, m)
		}
		resp.SMSMessageData.Recipients = append(resp.SMSMessageData.Recipients, rc)
		s.metrics.sms.WithLabelValues(rc.Status).Inc()
	}
	reportURL := acct.DeliveryReportURL
	if reportURL == "" {
		reportURL = s.opts.DeliveryReportURL
	}
	s.mu.Unlock()
	s.log.Info("sms received", "username", username, "recipients", len(numbers), "sent", sent)
	if sent > 0 {
		resp.SMSMessageData.Message = fmt.Sprintf("Sent to %d/%d Total Cost: KES %.4f", sent, len(numbers), 0.8*float64(sent))
	} else {
		resp.SMSMessageData.Message = fmt.Sprintf("Sent to 0/%d Total Cost: 0", len(numbers))
	}
	if reportURL != "" {
		for _, m := range reports {
			s.after(s.opts.DeliveryReportDelay, func() { s.report(reportURL, m) })
		}
	}
	if hasFault && fault.Hang {
		s.hang(r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resp)
}

// takeSMSFault removes and returns the first queued fault that applies to
// a send to numbers.
func (s *Server) takeSMSFault(numbers []string) (SMSFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.smsFault {
		if f.Number == "" || slices.Contains(numbers, f.Number) {
			s.smsFault = slices.Delete(s.smsFault, i, i+1)
			return f, true
		}
	}
	return SMSFault{}, false
}

func (s *Server) outcomeFor(number string) DeliveryOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.outcomes[number]
	if !ok {
		o = s.outcomes[""]
	}
	if o.Status == "" {
		o.Status = "Success"
	}
	return o
}

// networkCode returns Africa's Talking's network code for a Kenyan
// number's operator: 63902 Safaricom, 63903 Airtel, else 99999.
func networkCode(n string) string {
	switch {
	case strings.HasPrefix(n, "+2547"), strings.HasPrefix(n, "+2541"):
		if strings.HasPrefix(n, "+25473") || strings.HasPrefix(n, "+25410") {
			return "63903"
		}
		return "63902"
	}
	return "99999"
}

// report POSTs m's delivery report to url, with retries.
func (s *Server) report(url string, m SMS) {
	o := s.outcomeFor(m.To)
	if o.Never {
		return
	}
	form := urlValues(m, o)
	backoff := s.opts.ReportBackoff
	for attempt := 1; attempt <= s.opts.ReportAttempts; attempt++ {
		ok := s.postReport(url, form)
		s.mu.Lock()
		for i := range s.sms {
			if s.sms[i].MessageID == m.MessageID {
				s.sms[i].Report, s.sms[i].ReportAttempts, s.sms[i].ReportDelivered = o.Status, attempt, ok
			}
		}
		s.mu.Unlock()
		if ok {
			s.metrics.reports.WithLabelValues("delivered").Inc()
			return
		}
		s.metrics.reports.WithLabelValues("failed").Inc()
		if attempt == s.opts.ReportAttempts {
			break
		}
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff *= 2
	}
	s.metrics.reports.WithLabelValues("gave_up").Inc()
	s.log.Warn("delivery report gave up", "message_id", m.MessageID, "attempts", s.opts.ReportAttempts)
}

func urlValues(m SMS, o DeliveryOutcome) url.Values {
	v := url.Values{
		"id": {m.MessageID}, "status": {o.Status}, "phoneNumber": {m.To},
		"networkCode": {networkCode(m.To)}, "retryCount": {strconv.Itoa(o.RetryCount)},
	}
	if o.FailureReason != "" {
		v.Set("failureReason", o.FailureReason)
	}
	return v
}

func (s *Server) postReport(target string, form url.Values) bool {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.ReportTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		s.log.Warn("delivery report url", "err", err)
		return false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Info("delivery report failed", "url", target, "err", err)
		}
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
