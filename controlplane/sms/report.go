package sms

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sitepulse/sitepulse/controlplane"
)

// MaxDeliveryReportBytes bounds a delivery report body.
const MaxDeliveryReportBytes = 16 << 10

// DeliveryReport is Africa's Talking's delivery report of one message.
type DeliveryReport struct {
	MessageID     string // the id Send returned
	Status        string // Sent, Submitted, Buffered, Rejected, Success, Failed, AbsentSubscriber, Expired
	PhoneNumber   string
	NetworkCode   string
	FailureReason string
	RetryCount    int
	// Final is true for a status that will not change (Success, Failed,
	// Rejected, AbsentSubscriber, Expired); Delivered for Success.
	Final     bool
	Delivered bool
}

// DecodeDeliveryReport reads a form-encoded delivery report from r, at
// most MaxDeliveryReportBytes. Errors: ETOOLARGE, EINVALID.
func DecodeDeliveryReport(r *http.Request) (DeliveryReport, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, MaxDeliveryReportBytes)
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return DeliveryReport{}, controlplane.Errorf(controlplane.ETOOLARGE, "delivery report over %d bytes", MaxDeliveryReportBytes)
		}
		return DeliveryReport{}, controlplane.Errorf(controlplane.EINVALID, "delivery report: undecodable form")
	}
	return DeliveryReportFromForm(r.PostForm)
}

// DeliveryReportFromForm reads a delivery report's fields. id and status
// are required; an unknown status is kept, neither final nor delivered.
// Errors: EINVALID.
func DeliveryReportFromForm(v url.Values) (DeliveryReport, error) {
	d := DeliveryReport{
		MessageID: strings.TrimSpace(v.Get("id")), Status: strings.TrimSpace(v.Get("status")),
		PhoneNumber: v.Get("phoneNumber"), NetworkCode: v.Get("networkCode"), FailureReason: v.Get("failureReason"),
	}
	if d.MessageID == "" || d.Status == "" {
		return DeliveryReport{}, controlplane.Errorf(controlplane.EINVALID, "delivery report: id and status are required")
	}
	if s := v.Get("retryCount"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return DeliveryReport{}, controlplane.Errorf(controlplane.EINVALID, "delivery report: retryCount %q", clip(s))
		}
		d.RetryCount = n
	}
	switch d.Status {
	case "Success":
		d.Final, d.Delivered = true, true
	case "Failed", "Rejected", "AbsentSubscriber", "Expired":
		d.Final = true
	}
	return d, nil
}
