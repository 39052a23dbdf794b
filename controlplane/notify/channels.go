package notify

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/sms"
	"github.com/sitepulse/sitepulse/controlplane/telegram"
)

// SMSGateway adapts the Africa's Talking client to Texter and
// ReportDecoder.
type SMSGateway struct{ Client *sms.Client }

// SendSMS implements Texter.
func (g SMSGateway) SendSMS(ctx context.Context, cr SMSCredentials, to, text string) (string, error) {
	id, err := g.Client.Send(ctx, sms.Credentials{Username: cr.Username, APIKey: cr.APIKey, SenderID: cr.SenderID}, to, text)
	if err != nil {
		return "", classify(err, sms.MaybeSent(err))
	}
	return id, nil
}

// DecodeReport implements ReportDecoder.
func (g SMSGateway) DecodeReport(body []byte) (SMSReport, error) {
	r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return SMSReport{}, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rep, err := sms.DecodeDeliveryReport(r)
	if err != nil {
		return SMSReport{}, err
	}
	return SMSReport{MessageID: rep.MessageID, Status: rep.Status, Final: rep.Final, Delivered: rep.Delivered,
		Reason: rep.FailureReason}, nil
}

// TelegramBot adapts the Telegram client to Messenger.
type TelegramBot struct{ Client *telegram.Client }

// SendTelegram implements Messenger.
func (b TelegramBot) SendTelegram(ctx context.Context, token, chat, text string) (string, error) {
	id, err := b.Client.Send(ctx, token, chat, text)
	if err != nil {
		return "", classify(err, telegram.MaybeSent(err))
	}
	return strconv.FormatInt(id, 10), nil
}

// classify marks a client's error: invalid input, bad credentials and
// refusals are permanent (a retry would fail the same way); anything
// else is retried unless the provider may have taken the message.
func classify(err error, maybeSent bool) error {
	if maybeSent {
		return &sendError{err: err, maybeSent: true}
	}
	var ce *controlplane.Error
	if errors.As(err, &ce) {
		switch ce.Code {
		case controlplane.EINVALID, controlplane.EUNAUTHORIZED, controlplane.EFORBIDDEN:
			return &sendError{err: err, perm: true}
		}
	}
	return err
}
