// Package daraja is a simulator of Safaricom's Daraja (M-Pesa) API for
// tests, demos and benchmarks: what the control plane's Daraja client
// talks to when its base URL points here instead of
// https://sandbox.safaricom.co.ke.
//
// A Server answers, over real HTTP, the endpoints SitePulse uses, with the
// request validation, JSON field names and types, and error bodies
// ({"requestId","errorCode","errorMessage"}) that Daraja's documentation
// gives:
//
//   - GET  /oauth/v1/generate?grant_type=client_credentials (HTTP Basic
//     consumer key and secret) issues bearer tokens that expire on the
//     injected clock;
//   - POST /mpesa/stkpush/v1/processrequest (M-Pesa Express / STK push)
//     checks every field and the password base64(shortcode+passkey+timestamp),
//     answers at once, and later POSTs the Body.stkCallback result to the
//     request's CallBackURL once (Daraja does not retry);
//   - POST /mpesa/stkpushquery/v1/query answers "500.001.1001 The
//     transaction is being processed" until the customer has answered, then
//     the result (ResultCode as a string there, unlike the callback);
//   - POST /mpesa/c2b/v1|v2/registerurl and /mpesa/c2b/v1|v2/simulate, with a
//     C2B payment's validation request (when a ValidationURL is registered)
//     and confirmation; v1 sends the MSISDN SHA-256 hashed, v2 masked.
//
// What the customer does is scripted, per phone number or for the next
// push, or drawn from a seeded default policy: result codes 0, 1, 1001,
// 1019, 1032, 1037, 2001, a delay (the customer typing their PIN), a hold
// until Release, N identical callbacks sent concurrently, no callback at
// all, and forged amounts or receipts. A second push to a phone whose
// push is still waiting for the customer fails with 1001 in its callback,
// as on Daraja. Control (scripts, apps, shortcodes, forged callbacks,
// resends, C2B payments, the transaction list) is a Go API on Server and
// the same over HTTP JSON from ControlHandler; cmd/sitepulse-mpesa-sim
// serves that on a separate loopback listener.
package daraja
