package billing

import (
	"context"

	"github.com/sitepulse/sitepulse/controlplane/mpesa"
)

// NewDaraja adapts the M-Pesa client to what billing uses.
func NewDaraja(c *mpesa.Client) Daraja { return darajaClient{c} }

type darajaClient struct{ c *mpesa.Client }

func creds(m MpesaCredentials) mpesa.Credentials {
	return mpesa.Credentials{ConsumerKey: m.ConsumerKey, ConsumerSecret: m.ConsumerSecret, ShortCode: m.ShortCode,
		PassKey: m.PassKey, TransactionType: m.TransactionType, PartyB: m.PartyB}
}

func (d darajaClient) STKPush(ctx context.Context, c MpesaCredentials, r STKRequest) (STKAccepted, error) {
	res, err := d.c.STKPush(ctx, creds(c), mpesa.STKRequest{Amount: r.Shillings, Phone: r.Phone, CallbackURL: r.CallbackURL,
		AccountReference: r.AccountReference, Description: r.Description})
	return STKAccepted{MerchantRequestID: res.MerchantRequestID, CheckoutRequestID: res.CheckoutRequestID,
		CustomerMessage: res.CustomerMessage}, err
}

func (d darajaClient) STKQuery(ctx context.Context, c MpesaCredentials, checkoutID string) (STKStatus, error) {
	res, err := d.c.STKQuery(ctx, creds(c), checkoutID)
	return STKStatus{Pending: res.Pending, ResultCode: res.ResultCode, ResultDesc: res.ResultDesc}, err
}

func (d darajaClient) RegisterC2B(ctx context.Context, c MpesaCredentials, confirmationURL, validationURL string) error {
	return d.c.RegisterC2B(ctx, creds(c), confirmationURL, validationURL, mpesa.C2BCompleted)
}

func (darajaClient) DecodeSTKCallback(body []byte) (STKResult, error) {
	cb, err := mpesa.DecodeSTKCallback(body)
	if err != nil {
		return STKResult{}, err
	}
	return STKResult{MerchantRequestID: cb.MerchantRequestID, CheckoutRequestID: cb.CheckoutRequestID,
		ResultCode: cb.ResultCode, ResultDesc: cb.ResultDesc, AmountMinor: cb.Amount, Receipt: cb.MpesaReceiptNumber,
		Phone: cb.PhoneNumber, PaidAt: cb.TransactionDate}, nil
}

func (darajaClient) DecodeC2B(body []byte) (C2BPayment, error) {
	n, err := mpesa.DecodeC2B(body)
	if err != nil {
		return C2BPayment{}, err
	}
	return C2BPayment{TransID: n.TransID, AmountMinor: n.Amount, ShortCode: n.BusinessShortCode, BillRef: n.BillRefNumber,
		MSISDN: n.MSISDN, FirstName: n.FirstName, PaidAt: n.TransTime}, nil
}

func (darajaClient) Permanent(err error) bool { return mpesa.IsPermanent(err) }
