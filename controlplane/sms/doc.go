// Package sms sends SMS through Africa's Talking's messaging API and
// decodes its delivery reports. Errors are controlplane.Error codes:
// EINVALID (bad number or sender id: do not retry), EUNAUTHORIZED (bad
// credentials), EUNAVAILABLE (5xx, timeouts: retry), and MaybeSent tells
// whether a failed send may still have reached the gateway.
package sms
