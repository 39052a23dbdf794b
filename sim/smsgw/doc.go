// Package smsgw is a simulator of the two messaging gateways SitePulse
// sends notifications through, for tests, demos and benchmarks:
//
//   - Africa's Talking's SMS API: POST /version1/messaging, form fields
//     username, to (comma-separated numbers in international format),
//     message and from (sender id, optional), headers apiKey and
//     Accept: application/json. It answers 201 with
//     {"SMSMessageData":{"Message":"Sent to 1/1 Total Cost: KES 0.8000",
//     "Recipients":[{"statusCode":101,"number":…,"status":"Success",
//     "cost":"KES 0.8000","messageId":"ATXid_…"}]}}, per-recipient status
//     codes 100–102 for accepted messages and 401–407, 500–502 for refused
//     ones, and 401 with a plain-text body for a wrong username or apiKey.
//     Some time after a send (Options.DeliveryReportDelay) it POSTs a
//     form-encoded delivery report (id, status, phoneNumber, networkCode,
//     failureReason, retryCount) to the account's delivery report URL,
//     retrying when the callback does not answer 2xx.
//   - The Telegram Bot API's sendMessage: POST /bot{token}/sendMessage
//     with a JSON or form body {chat_id, text, parse_mode}, answering
//     {"ok":true,"result":{message_id,…}} or {"ok":false,"error_code",
//     "description"[,"parameters":{"retry_after"}]}.
//
// Accounts, bots and chats are registered (or any is accepted), faults are
// scripted for the next sends (an HTTP 500 or 401, a hang after the
// message was taken, a per-recipient status code, a Telegram error such as
// 429 with retry_after), delivery outcomes are set per number, and every
// message received is listed. That control is a Go API on Server and the
// same over HTTP JSON from ControlHandler, which answers loopback clients
// only; cmd/sitepulse-sms-sim serves it on a separate listener.
package smsgw
