// Package mail sends e-mail over SMTP (github.com/wneessen/go-mail): a
// Config parsed from an smtp:// or smtps:// URL, a Message with a text and
// an HTML part, and Send, which opens one connection per message.
//
// Send's errors are classified for a retrying caller: Permanent (the
// server answered 5xx, or the message or address is invalid), MaybeSent
// (the message was written but the server's answer to it was lost, so a
// retry may deliver it twice), and everything else temporary. The SMTP
// password never appears in errors, logs or String.
package mail
