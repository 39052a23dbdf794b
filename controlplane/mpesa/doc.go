// Package mpesa is the control plane's client of Safaricom's Daraja API
// (M-Pesa) and the decoder of what Daraja posts back to us.
//
// The [Client] speaks to one Daraja base URL (Safaricom's sandbox by
// default, the production host or the Daraja simulator by configuration)
// on behalf of many tenants: [Credentials] are passed on every call. It
// covers what the money path needs:
//
//   - OAuth client-credentials tokens, cached per consumer key until
//     shortly before they expire, fetched once under concurrency, and
//     dropped and re-fetched once when Daraja answers 404.001.03 (invalid
//     access token);
//   - Lipa Na M-Pesa Online (STK push, [Client.STKPush]) and its status
//     query ([Client.STKQuery]);
//   - C2B URL registration ([Client.RegisterC2B]).
//
// Daraja's error bodies ({"requestId","errorCode","errorMessage"}) become
// [*APIError]; [IsRetryable] and [IsPermanent] classify any error the
// client returns.
//
// Daraja does not sign what it posts. [DecodeSTKCallback] and [DecodeC2B]
// read those bodies strictly (bounded size, typed fields, required ids) and
// turn Daraja's shilling amounts into integer minor units without ever
// going through a float; [Accepted], [C2BAccept], [C2BReject] and
// [C2BConfirmed] are the answers Daraja expects. Whether a decoded callback
// is genuine (the per-payment token in its URL, an STK query confirming it)
// is the billing service's decision, not this package's.
//
// Daraja's times (the STK Timestamp, TransactionDate, TransTime) are
// wall-clock times in Africa/Nairobi. Kenya has been on UTC+3 without
// daylight saving since 1960, so a fixed zone is exact and spares the
// binaries a tzdata dependency.
//
// Secrets (consumer secret, passkey, access tokens, the STK password) are
// never logged and never part of an error message.
package mpesa
