package controlplane

// MaxHookBody bounds what a payment provider may POST to SitePulse: real
// callbacks are a few KiB.
const MaxHookBody = 64 << 10

// ProviderHook is one request a payment provider made to a public hook
// endpoint, as the API hands it to billing: the path's tenant, payment and
// token, the source address and the raw body (at most MaxHookBody).
type ProviderHook struct {
	TenantID   int64
	PaymentID  int64  // the STK callback's payment
	Token      string // the path's secret: the STK payment's or the tenant's C2B token
	RemoteAddr string // the TCP peer's IP (a proxy's X-Forwarded-For is not trusted)
	// Timestamp and Signature are the signed webhook's X-SitePulse-Timestamp
	// and X-SitePulse-Signature headers.
	Timestamp, Signature string
	Body                 []byte
}

// HookReply is what to answer the provider: HTTP status and a JSON body in
// the shape it expects (Daraja's {"ResultCode":0,"ResultDesc":"Accepted"}).
type HookReply struct {
	Status int
	Body   []byte
}
