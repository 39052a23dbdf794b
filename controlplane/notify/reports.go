package notify

import (
	"context"
	"crypto/hmac"
	"errors"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/store"
)

// SMSReport is a gateway's delivery report as its decoder reads it.
type SMSReport struct {
	MessageID string
	Status    string // the gateway's word (Success, Failed, Rejected…)
	Final     bool   // no further report will come for the message
	Delivered bool   // it reached the phone
	Reason    string // why not, when not
}

// ReportDecoder reads a delivery report body; a Texter that takes
// reports implements it. Errors are EINVALID.
type ReportDecoder interface {
	DecodeReport(body []byte) (SMSReport, error)
}

// SMSReport takes a delivery report posted to tenant's report URL: the
// notification the gateway knows by its message id becomes delivered or
// undelivered. A wrong token is EUNAUTHORIZED. A report for no message of
// ours is ENOTFOUND (404), so the gateway retries it: a report can arrive
// before the send that caused it recorded the gateway's message id.
func (s *Service) SMSReport(ctx context.Context, h controlplane.ProviderHook) (controlplane.HookReply, error) {
	if !hmac.Equal([]byte(h.Token), []byte(ReportToken(s.o.ReportKey, h.TenantID))) {
		s.m.reports.WithLabelValues("rejected").Inc()
		return controlplane.HookReply{}, controlplane.Errorf(controlplane.EUNAUTHORIZED, "unknown delivery report URL")
	}
	dec, ok := s.o.SMS.(ReportDecoder)
	if !ok {
		return controlplane.HookReply{}, controlplane.Errorf(controlplane.EUNAVAILABLE, "this control plane has no SMS gateway")
	}
	rep, err := dec.DecodeReport(h.Body)
	if err != nil {
		s.m.reports.WithLabelValues("rejected").Inc()
		return controlplane.HookReply{}, err
	}
	var out store.NotificationRow
	outcome := "interim"
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		row, err := tx.NotificationByProvider(ctx, h.TenantID, controlplane.ChannelSMS, rep.MessageID)
		if err != nil {
			return err
		}
		if !rep.Final {
			return nil
		}
		switch {
		case rep.Delivered:
			row.Status, row.LastError, outcome = controlplane.NotificationDelivered, "", "delivered"
		default:
			row.Status, outcome = controlplane.NotificationUndelivered, "undelivered"
			row.LastError = rep.Status
			if rep.Reason != "" {
				row.LastError += ": " + rep.Reason
			}
		}
		out, err = tx.UpdateNotification(ctx, row)
		return err
	})
	if controlplane.ErrorCode(err) == controlplane.ENOTFOUND {
		s.m.reports.WithLabelValues("unknown_message").Inc()
		return controlplane.HookReply{}, controlplane.Errorf(controlplane.ENOTFOUND, "no SMS with message id %q", rep.MessageID)
	}
	if err != nil {
		return controlplane.HookReply{}, errors.Join(errors.New("delivery report"), err)
	}
	s.m.reports.WithLabelValues(outcome).Inc()
	if out.ID != 0 {
		s.publish(out.Notification)
	}
	return controlplane.HookReply{Status: 200}, nil
}
